# modes.gp: every execution mode: measured (bars) and predicted (points)
# images/s on top; speedup over the CPU alone (every core, or in lanes) and the GPU alone
# (one image at a time or streaming, the faster) below, with
# the thesis' pipeline speedups (1.7x, 1.97x) and this machine's bounds.
# data: label <TAB> measured <TAB> predicted <TAB> vs_cpu <TAB> vs_gpu
# vars: ttl, n (modes), bound_cpu (the best possible speedup over CPU alone,
# 1 + T_cpu/T_gpu), bound_gpu (1 + T_gpu/T_cpu).
load "common.gp"
set multiplot layout 2, 1 title ttl noenhanced
set lmargin 14
set rmargin 40
set style fill solid 0.85 border -1
set boxwidth 0.6
set ylabel "images/s"
set xtics format "" nomirror
set yrange [0:*]
set key outside right top
set xrange [-0.6:n - 0.4]
set xtics 1
plot data using 0:2 with boxes lc rgb "#7f7f7f" title "measured", \
     "" using 0:2:(sprintf("%.1f", $2)) with labels offset 0, -0.8 font ",10" tc rgb "white" notitle, \
     "" using 0:3 with points pt 9 ps 1.6 lc rgb "black" title "predicted (hetpart)"
set ylabel "speedup (x, log scale)"
set logscale y 2
set yrange [*:*]
set format y "%.2g"
set xtics rotate by 20 right font ",10" noenhanced format "% h"
set bmargin 7
set boxwidth 0.35
plot data using ($0 - 0.18):4:xtic(1) with boxes lc rgb CPU_C title "over the CPU alone at its best", \
     "" using ($0 + 0.18):5 with boxes lc rgb GPU_C title "over the GPU alone at its best", \
     1.7 with lines dt 2 lw 2 lc rgb CPU_C title "thesis pipeline over CPU (1.7x)", \
     1.97 with lines dt 2 lw 2 lc rgb GPU_C title "thesis pipeline over GPU (1.97x)", \
     bound_cpu with lines dt 3 lw 2 lc rgb CPU_C title sprintf("best possible over CPU (%.2fx)", bound_cpu), \
     bound_gpu with lines dt 3 lw 2 lc rgb GPU_C title sprintf("best possible over GPU (%.2fx)", bound_gpu), \
     1 with lines lw 1 lc rgb "black" notitle
unset multiplot
