// textformat.c: a protobuf text-format parser driven by protobuf-c descriptors.
//
// The grammar (the subset of protobuf's text format that Caffe files use):
//   message := { field } ;
//   field   := NAME [':'] ( '{' message '}' | '<' message '>' )
//            | NAME ':' ( scalar | '[' [ scalar { ',' scalar } ] ']' ) ;
//   fields may be separated by ',' or ';'; '#' starts a comment.
// Field names are looked up in the message descriptor, values are stored at
// the descriptor's offsets, so every message of the schema parses without
// code of its own. Memory comes from malloc, which is what
// protobuf_c_message_free_unpacked(msg, NULL) releases.
#include "model.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tok_kind { T_EOF, T_IDENT, T_NUMBER, T_STRING, T_PUNCT };

typedef struct parser {
    const char *src, *end, *p;
    const char *name;       // file name for messages
    int line, col;          // position of p
    // current token
    enum tok_kind kind;
    const char *tok;        // start in src (for IDENT/NUMBER/PUNCT)
    size_t tok_len;
    int tok_line, tok_col;
    char *str;              // decoded string literal (T_STRING)
    size_t str_len;
    int depth;
} parser;

#define MAX_DEPTH 64

// Logs "FILE:LINE:COL: message". Bytes of the input quoted in the message
// are escaped (\xHH) when not printable ASCII, so a binary file given as a
// prototxt still yields one readable line.
static het_status perr(parser *ps, const char *fmt, const char *a, const char *b)
{
    char msg[512], safe[2048];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    size_t o = 0;
    for (const unsigned char *c = (const unsigned char *)msg; *c && o + 5 < sizeof safe; c++) {
        if (*c >= 0x20 && *c < 0x7f) safe[o++] = (char)*c;
        else o += (size_t)snprintf(safe + o, sizeof safe - o, "\\x%02x", *c);
    }
    safe[o] = 0;
    het_log(HET_LOG_ERROR, "%s:%d:%d: %s", ps->name, ps->tok_line, ps->tok_col, safe);
    return HET_E_INVALID;
}

static void advance_char(parser *ps)
{
    if (*ps->p == '\n') {
        ps->line++;
        ps->col = 1;
    } else {
        ps->col++;
    }
    ps->p++;
}

static void skip_space(parser *ps)
{
    while (ps->p < ps->end) {
        if (isspace((unsigned char)*ps->p)) {
            advance_char(ps);
        } else if (*ps->p == '#') {
            while (ps->p < ps->end && *ps->p != '\n') advance_char(ps);
        } else {
            break;
        }
    }
}

// Decodes one quoted string (C-style escapes, adjacent literals concatenate).
static het_status lex_string(parser *ps)
{
    size_t cap = 64, n = 0;
    char *out = malloc(cap);
    if (!out) return HET_E_NOMEM;
    for (;;) {
        char q = *ps->p;
        advance_char(ps);
        for (;;) {
            if (ps->p >= ps->end || *ps->p == '\n') {
                free(out);
                return perr(ps, "unterminated string literal%s%s", NULL, NULL);
            }
            char c = *ps->p;
            advance_char(ps);
            if (c == q) break;
            if (c == '\\') {
                if (ps->p >= ps->end) break;
                char e = *ps->p;
                advance_char(ps);
                switch (e) {
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'r': c = '\r'; break;
                case '0': case '1': case '2': case '3':
                case '4': case '5': case '6': case '7': {
                    int v = e - '0';
                    for (int k = 0; k < 2 && ps->p < ps->end && *ps->p >= '0' && *ps->p <= '7'; k++) {
                        v = v * 8 + (*ps->p - '0');
                        advance_char(ps);
                    }
                    c = (char)v;
                    break;
                }
                default: c = e; break; // \\ \" \' and anything else literally
                }
            }
            if (n + 2 > cap) {
                cap *= 2;
                char *t = realloc(out, cap);
                if (!t) { free(out); return HET_E_NOMEM; }
                out = t;
            }
            out[n++] = c;
        }
        skip_space(ps);
        if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) continue;
        break;
    }
    out[n] = 0;
    ps->str = out;
    ps->str_len = n;
    return HET_OK;
}

// Reads the next token into ps->kind/tok/str.
static het_status next(parser *ps)
{
    free(ps->str);
    ps->str = NULL;
    skip_space(ps);
    ps->tok = ps->p;
    ps->tok_line = ps->line;
    ps->tok_col = ps->col;
    ps->tok_len = 0;
    if (ps->p >= ps->end) {
        ps->kind = T_EOF;
        return HET_OK;
    }
    unsigned char c = (unsigned char)*ps->p;
    if (isalpha(c) || c == '_') {
        while (ps->p < ps->end && (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '.'))
            advance_char(ps);
        ps->kind = T_IDENT;
    } else if (isdigit(c) || c == '-' || c == '+' || c == '.') {
        while (ps->p < ps->end &&
               (isalnum((unsigned char)*ps->p) || *ps->p == '.' || *ps->p == '-' || *ps->p == '+'))
            advance_char(ps);
        ps->kind = T_NUMBER;
    } else if (c == '"' || c == '\'') {
        ps->kind = T_STRING;
        het_status st = lex_string(ps);
        if (st != HET_OK) return st;
    } else if (strchr(":{}<>[],;", c)) {
        advance_char(ps);
        ps->kind = T_PUNCT;
    } else {
        char s[2] = {(char)c, 0};
        return perr(ps, "unexpected character '%s'%s", s, NULL);
    }
    ps->tok_len = (size_t)(ps->p - ps->tok);
    return HET_OK;
}

static int is_punct(const parser *ps, char c)
{
    return ps->kind == T_PUNCT && ps->tok[0] == c;
}

static void tok_copy(const parser *ps, char *buf, size_t cap)
{
    size_t n = ps->tok_len < cap - 1 ? ps->tok_len : cap - 1;
    memcpy(buf, ps->tok, n);
    buf[n] = 0;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
                                                  const char *name)
{
    for (unsigned i = 0; i < d->n_fields; i++)
        if (strcmp(d->fields[i].name, name) == 0) return &d->fields[i];
    return NULL;
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    }
    return 0;
}

// Returns where the next value of field f goes: for a repeated field, a new
// zeroed slot at the end of the array; otherwise the field itself (with its
// has_ flag set). For singular strings/messages the old value is freed.
static het_status field_slot(parser *ps, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                             void **slot_out)
{
    char *base = (char *)m;
    size_t es = elem_size(f->type);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t *n = (size_t *)(base + f->quantifier_offset);
        void **arr = (void **)(base + f->offset);
        if (*n >= (SIZE_MAX / 2) / es) return perr(ps, "too many values for field '%s'%s", f->name, NULL);
        // Grow geometrically without a capacity field: the capacity is
        // implicitly max(4, next power of two >= n), so reallocate exactly
        // when n is 0 or a power of two of at least 4.
        if (*n == 0 || (*n >= 4 && (*n & (*n - 1)) == 0)) {
            size_t ncap = *n == 0 ? 4 : *n * 2;
            void *t = realloc(*arr, ncap * es);
            if (!t) return HET_E_NOMEM;
            *arr = t;
        }
        char *slot = (char *)*arr + *n * es;
        memset(slot, 0, es);
        (*n)++;
        *slot_out = slot;
        return HET_OK;
    }
    if (f->quantifier_offset && f->label != PROTOBUF_C_LABEL_NONE)
        *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
    void *slot = base + f->offset;
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        char **s = slot;
        if (*s && *s != (const char *)f->default_value) free(*s);
        *s = NULL;
    } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        ProtobufCMessage **sm = slot;
        if (*sm) protobuf_c_message_free_unpacked(*sm, NULL);
        *sm = NULL;
    } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
        ProtobufCBinaryData *bd = slot;
        if (bd->data && (!f->default_value || bd->data != ((const ProtobufCBinaryData *)f->default_value)->data))
            free(bd->data);
        bd->data = NULL;
        bd->len = 0;
    }
    *slot_out = slot;
    return HET_OK;
}

static het_status parse_message_body(parser *ps, ProtobufCMessage *m, char close);

static het_status parse_int(parser *ps, const ProtobufCFieldDescriptor *f, int is_signed,
                            long long lo, unsigned long long hi, void *slot, size_t es)
{
    char buf[64];
    if (ps->kind != T_NUMBER) return perr(ps, "expected an integer for field '%s'%s", f->name, NULL);
    tok_copy(ps, buf, sizeof buf);
    errno = 0;
    char *endp;
    if (is_signed) {
        long long v = strtoll(buf, &endp, 0);
        if (*endp || errno || v < lo || (v > 0 && (unsigned long long)v > hi))
            return perr(ps, "'%s' is not a valid integer for field '%s'", buf, f->name);
        if (es == 4) *(int32_t *)slot = (int32_t)v;
        else *(int64_t *)slot = (int64_t)v;
    } else {
        if (buf[0] == '-') return perr(ps, "'%s' is negative but field '%s' is unsigned", buf, f->name);
        unsigned long long v = strtoull(buf, &endp, 0);
        if (*endp || errno || v > hi)
            return perr(ps, "'%s' is not a valid unsigned integer for field '%s'", buf, f->name);
        if (es == 4) *(uint32_t *)slot = (uint32_t)v;
        else *(uint64_t *)slot = (uint64_t)v;
    }
    return HET_OK;
}

static het_status parse_scalar(parser *ps, const ProtobufCFieldDescriptor *f, void *slot)
{
    char buf[128];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        return parse_int(ps, f, 1, INT32_MIN, INT32_MAX, slot, 4);
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        return parse_int(ps, f, 1, INT64_MIN, INT64_MAX, slot, 8);
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        return parse_int(ps, f, 0, 0, UINT32_MAX, slot, 4);
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        return parse_int(ps, f, 0, 0, UINT64_MAX, slot, 8);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        if (ps->kind != T_NUMBER && ps->kind != T_IDENT)
            return perr(ps, "expected a number for field '%s'%s", f->name, NULL);
        tok_copy(ps, buf, sizeof buf);
        double v;
        // protobuf text format accepts a trailing f/F ("1.5f") and inf/nan.
        size_t n = strlen(buf);
        if (n > 1 && (buf[n - 1] == 'f' || buf[n - 1] == 'F') && ps->kind == T_NUMBER) buf[n - 1] = 0;
        if (!strcmp(buf, "inf") || !strcmp(buf, "infinity")) v = INFINITY;
        else if (!strcmp(buf, "-inf") || !strcmp(buf, "-infinity")) v = -INFINITY;
        else if (!strcmp(buf, "nan")) v = NAN;
        else {
            char *endp;
            errno = 0;
            v = strtod(buf, &endp);
            if (*endp || ps->kind != T_NUMBER || endp == buf)
                return perr(ps, "'%s' is not a valid number for field '%s'", buf, f->name);
        }
        if (f->type == PROTOBUF_C_TYPE_FLOAT) *(float *)slot = (float)v;
        else *(double *)slot = v;
        return HET_OK;
    }
    case PROTOBUF_C_TYPE_BOOL: {
        tok_copy(ps, buf, sizeof buf);
        if (!strcmp(buf, "true") || !strcmp(buf, "True") || !strcmp(buf, "t") || !strcmp(buf, "1"))
            *(protobuf_c_boolean *)slot = 1;
        else if (!strcmp(buf, "false") || !strcmp(buf, "False") || !strcmp(buf, "f") || !strcmp(buf, "0"))
            *(protobuf_c_boolean *)slot = 0;
        else
            return perr(ps, "'%s' is not a boolean (true/false) for field '%s'", buf, f->name);
        return HET_OK;
    }
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        tok_copy(ps, buf, sizeof buf);
        if (ps->kind == T_IDENT) {
            const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, buf);
            if (!ev) return perr(ps, "'%s' is not a value of enum %s", buf, ed->name);
            *(int32_t *)slot = ev->value;
        } else if (ps->kind == T_NUMBER) {
            char *endp;
            long v = strtol(buf, &endp, 0);
            if (*endp || !protobuf_c_enum_descriptor_get_value(ed, (int)v))
                return perr(ps, "'%s' is not a value of enum %s", buf, ed->name);
            *(int32_t *)slot = (int32_t)v;
        } else {
            return perr(ps, "expected an enum value for field '%s'%s", f->name, NULL);
        }
        return HET_OK;
    }
    case PROTOBUF_C_TYPE_STRING:
        if (ps->kind != T_STRING) return perr(ps, "expected a quoted string for field '%s'%s", f->name, NULL);
        *(char **)slot = ps->str;
        ps->str = NULL;
        return HET_OK;
    case PROTOBUF_C_TYPE_BYTES: {
        if (ps->kind != T_STRING) return perr(ps, "expected a quoted string for field '%s'%s", f->name, NULL);
        ProtobufCBinaryData *bd = slot;
        bd->data = (uint8_t *)ps->str;
        bd->len = ps->str_len;
        ps->str = NULL;
        return HET_OK;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        break;
    }
    return perr(ps, "internal: unexpected field type for '%s'%s", f->name, NULL);
}

static het_status parse_field_value(parser *ps, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    het_status st;
    void *slot = NULL;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        char close;
        if (is_punct(ps, '{')) close = '}';
        else if (is_punct(ps, '<')) close = '>';
        else return perr(ps, "expected '{' after message field '%s'%s", f->name, NULL);
        if (++ps->depth > MAX_DEPTH) return perr(ps, "messages nested deeper than 64 levels%s%s", NULL, NULL);
        const ProtobufCMessageDescriptor *sd = f->descriptor;
        ProtobufCMessage *sub = calloc(1, sd->sizeof_message);
        if (!sub) return HET_E_NOMEM;
        protobuf_c_message_init(sd, sub);
        st = field_slot(ps, m, f, &slot);
        if (st != HET_OK) {
            protobuf_c_message_free_unpacked(sub, NULL);
            return st;
        }
        *(ProtobufCMessage **)slot = sub; // owned by m from here on
        st = next(ps);
        if (st != HET_OK) return st;
        st = parse_message_body(ps, sub, close);
        ps->depth--;
        return st;
    }
    st = field_slot(ps, m, f, &slot);
    if (st != HET_OK) return st;
    st = parse_scalar(ps, f, slot);
    if (st != HET_OK) return st;
    return next(ps);
}

// Parses fields until `close` ('}' or '>') or, for close == 0, end of input.
// On return the closing token has been consumed.
static het_status parse_message_body(parser *ps, ProtobufCMessage *m, char close)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    char name[128];
    for (;;) {
        if (ps->kind == T_EOF) {
            if (close) return perr(ps, "unexpected end of file: missing '%c'%s", (char[]){close, 0}, NULL);
            return HET_OK;
        }
        if (close && is_punct(ps, close)) return next(ps);
        if (ps->kind != T_IDENT) {
            tok_copy(ps, name, sizeof name);
            return perr(ps, "expected a field name of %s, found '%s'", d->name, name);
        }
        tok_copy(ps, name, sizeof name);
        const ProtobufCFieldDescriptor *f = find_field(d, name);
        if (!f) return perr(ps, "unknown field '%s' in message %s (not in het's caffe.proto subset)", name, d->name);
        het_status st = next(ps);
        if (st != HET_OK) return st;
        int had_colon = 0;
        if (is_punct(ps, ':')) {
            had_colon = 1;
            st = next(ps);
            if (st != HET_OK) return st;
        }
        if (f->type != PROTOBUF_C_TYPE_MESSAGE && !had_colon)
            return perr(ps, "expected ':' after field '%s'%s", name, NULL);
        if (is_punct(ps, '[')) {
            if (f->label != PROTOBUF_C_LABEL_REPEATED)
                return perr(ps, "field '%s' is not repeated, so it takes no '[...]' list%s", name, NULL);
            st = next(ps);
            if (st != HET_OK) return st;
            while (!is_punct(ps, ']')) {
                st = parse_field_value(ps, (ProtobufCMessage *)m, f);
                if (st != HET_OK) return st;
                if (is_punct(ps, ',')) {
                    st = next(ps);
                    if (st != HET_OK) return st;
                } else if (!is_punct(ps, ']')) {
                    return perr(ps, "expected ',' or ']' in the list of field '%s'%s", name, NULL);
                }
            }
            st = next(ps);
        } else {
            st = parse_field_value(ps, m, f);
        }
        if (st != HET_OK) return st;
        if (is_punct(ps, ',') || is_punct(ps, ';')) {
            st = next(ps);
            if (st != HET_OK) return st;
        }
    }
}

het_status het_textformat_parse(const char *text, size_t len, const char *name,
                                const ProtobufCMessageDescriptor *desc, ProtobufCMessage **msg_out)
{
    parser ps = {.src = text, .end = text + len, .p = text, .name = name, .line = 1, .col = 1};
    ProtobufCMessage *m = calloc(1, desc->sizeof_message);
    if (!m) return HET_E_NOMEM;
    protobuf_c_message_init(desc, m);
    het_status st = next(&ps);
    if (st == HET_OK) st = parse_message_body(&ps, m, 0);
    free(ps.str);
    if (st != HET_OK) {
        protobuf_c_message_free_unpacked(m, NULL);
        return st;
    }
    *msg_out = m;
    return HET_OK;
}
