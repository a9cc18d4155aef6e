# predicted.gp: predicted against measured images/s, every solved plan of
# every model, with y = x and the +-10% band. data: one block per model
# (measured <TAB> predicted <TAB> mode index), names: the models (colour),
# modes: the modes (point shape; shapes instead of text labels, which
# overlapped where plans cluster).
load "common.gp"
set title ttl noenhanced
# log: 1 for log axes (values over more than a decade)
if (log) {
    set logscale xy
    set xlabel "measured images/s (log scale)"
    set ylabel "predicted images/s (log scale)"
} else {
    set xlabel "measured images/s"
    set ylabel "predicted images/s"
}
set format xy "%g"
set samples 200
set xrange [lo:hi]
set yrange [lo:hi]
set size square
set key outside right top noenhanced
set grid xtics ytics lc rgb "#dddddd"
n = words(names)
nm = words(modes)
shape(k) = word("7 5 9 11 13 15", int(k) + 1) + 0
plot '+' using 1:(0.9 * $1):(1.1 * $1) with filledcurves lc rgb "#e8e8e8" title "within 10%", \
     x with lines lc rgb "black" title "predicted = measured", \
     for [i = 0:n - 1] data index i using 1:2:(shape($3)) with points pt variable ps 1.6 lc i + 1 notitle, \
     for [i = 0:n - 1] NaN with boxes fs solid lc i + 1 title word(names, i + 1), \
     for [k = 0:nm - 1] NaN with points pt shape(k) ps 1.6 lc rgb "black" title word(modes, k + 1)
