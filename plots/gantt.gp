# gantt.gp: a streamed run's timeline: one row per stage (or device),
# a box per image from its start to its end there.
# data: lane <TAB> image <TAB> start_ms <TAB> end_ms; vars: ttl, lanes (the
# row names, in order), n_lanes, tmax.
load "common.gp"
set title ttl noenhanced
set xlabel "time since the stream started (ms)"
set yrange [-0.6:n_lanes - 0.4]
set xrange [0:tmax]
set ytics () nomirror
do for [i = 1:n_lanes] { set ytics add (word(lanes, i) i - 1) }
set grid xtics noytics lc rgb "#dddddd"
set style fill solid 0.7 border lc rgb "black"
unset key
set palette defined (0 "#1f77b4", 1 "#ff7f0e", 2 "#2ca02c", 3 "#d62728", 4 "#9467bd", 5 "#8c564b", 6 "#e377c2", 7 "#17becf")
set cbrange [0:7]
unset colorbox
plot data using (($3 + $4) / 2):1:(($4 - $3) / 2):(0.35):(int($2) % 8) with boxxyerror lc palette, \
     "" using (($3 + $4) / 2):1:(($4 - $3) > tmax / 40 ? sprintf("%d", $2) : "") with labels font ",8"
