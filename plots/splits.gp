# splits.gp: wall time of the heaviest layers against the GPU's share of
# their output channels. data: one block per layer (share <TAB> ms),
# blocks separated by two blank lines; chosen: one block per layer with the
# share the split plan chose and the time there. names: the layer names.
load "common.gp"
set title ttl noenhanced
set xlabel "GPU share of the output channels (0: all on the CPU, 1: all on the GPU)"
set ylabel "layer time, both halves and the merge (ms)"
set xrange [-0.02:1.02]
set xtics 0.1
set yrange [0:*]
set key inside left top noenhanced box opaque
set grid xtics ytics lc rgb "#dddddd"
n = words(names)
plot for [i = 0:n - 1] data index i using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc i + 1 title word(names, i + 1), \
     for [i = 0:n - 1] chosen index i using 1:2 with points pt 6 ps 3 lw 2 lc i + 1 notitle, \
     NaN with points pt 6 ps 3 lw 2 lc rgb "black" title "share in the split plan"
