# predicted.gp: predicted against measured images/s, every solved plan of
# every model, with y = x and the +-10% band. data: one block per model
# (measured <TAB> predicted <TAB> mode), names: the models.
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
plot '+' using 1:(0.9 * $1):(1.1 * $1) with filledcurves lc rgb "#e8e8e8" title "within 10%", \
     x with lines lc rgb "black" title "predicted = measured", \
     for [i = 0:n - 1] data index i using 1:2 with points pt 7 ps 1.4 lc i + 1 title word(names, i + 1), \
     for [i = 0:n - 1] data index i using 1:2:3 with labels offset 0.6, 0.6 left font ",8" noenhanced notitle
