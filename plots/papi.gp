# papi.gp: PAPI counters per layer on the CPU: instructions per cycle
# (bars) and cycles (points, right axis, log scale).
# data: layer <TAB> ipc <TAB> cycles
load "common.gp"
set title ttl noenhanced
set style fill solid 0.85 border -1
set boxwidth 0.7
set ylabel "instructions per cycle"
set y2label "cycles (log scale)"
set logscale y2
set y2tics
set ytics nomirror
set yrange [0:*]
set xtics rotate by 90 right font ",8" nomirror noenhanced
set bmargin bm
set key outside top center horizontal box width 2
plot data using 2:xtic(1) with boxes lc rgb CPU_C title "IPC", \
     "" using 0:3 axes x1y2 with points pt 7 lc rgb "black" title "cycles"
