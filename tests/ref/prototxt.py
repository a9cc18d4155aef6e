"""Just enough of a prototxt reader for the reference scripts: each
top-level layer's name, type, bottoms and tops (an independent reading of
the file, not het's parser)."""
import re


def layers_of(prototxt):
    """(name, type, bottoms, tops) of each top-level layer, in file order."""
    text = re.sub(r"#[^\n]*", "", open(prototxt).read())
    out = []
    for m in re.finditer(r"\blayers?\s*\{", text):
        depth, i = 1, m.end()
        start = i
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        body = text[start:i - 1]
        # only the layer's own fields: drop nested { ... } blocks
        flat, d = [], 0
        for ch in body:
            if ch == "{":
                d += 1
            elif ch == "}":
                d -= 1
            elif d == 0:
                flat.append(ch)
        flat = "".join(flat)
        get = lambda k: re.findall(r"\b%s\s*:\s*\"([^\"]*)\"" % k, flat)
        out.append((get("name")[0], get("type")[0], get("bottom"), get("top")))
    return out


def checked_blobs(layers):
    """The blobs the comparisons check: the final blob, and the input of the
    last Softmax (a saturated softmax hides errors)."""
    out = {"final": layers[-1][3][0]}
    softmax = [l for l in layers if l[1] == "Softmax"]
    if softmax:
        out["pre-softmax"] = softmax[-1][2][0]
    return out


def folded_names(layers):
    """Names of the layers het folds by default (docs/design.md): BatchNorm
    and Scale layers working in place on a Convolution's output, directly
    after it (any number of them, in a row)."""
    out = set()
    for i, (_, kind, _, tops) in enumerate(layers):
        if kind != "Convolution":
            continue
        j = i + 1
        while j < len(layers) and layers[j][1] in ("BatchNorm", "Scale") and layers[j][2] == tops \
                and layers[j][3] == tops:
            out.add(layers[j][0])
            j += 1
    return out
