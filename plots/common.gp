# common.gp: the terminal, loaded first by every figure script.
# Variables from figures.py: fmt ("png" or "svg"), out (path without
# extension), w and h (pixels).
if (fmt eq "png") {
    set terminal pngcairo size w, h font "DejaVu Sans,11" enhanced
    set output out . ".png"
} else {
    set terminal svg size w, h font "DejaVu Sans,11" enhanced dynamic background "white"
    set output out . ".svg"
}
set datafile separator "\t"
set datafile missing "?"
set border lw 1
set grid ytics lc rgb "#dddddd"
set key noenhanced
CPU_C = "#1f77b4"
GPU_C = "#d62728"
