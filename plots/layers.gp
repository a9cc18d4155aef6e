# layers.gp: per-unit time on the CPU and on the GPU, grouped bars in
# network order. data: unit <TAB> cpu_ms <TAB> gpu_ms (with a header).
load "common.gp"
set title ttl noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set ylabel "time per image (ms, log scale)"
set format y "%g"
set xlabel "unit in network order (a convolution and its ReLU run as one; units under 1 µs on both devices,\nsuch as zero-copy concats, are left out)"
set xtics rotate by 90 right font ",8" nomirror noenhanced
set key outside top center horizontal box width 2
set bmargin bm
plot data using 2:xtic(1) title "CPU" lc rgb CPU_C, \
     "" using 3 title "GPU" lc rgb GPU_C
