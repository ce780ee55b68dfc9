# report.awk: bench/peers.sh's raw figures -> the markdown tables of RESULTS.md.
# Input (tab-separated): phase, metric, peer, round, value — one line per measurement.
# Output: per phase a table of medians (rows = peers, a "x ref" = peer / refproxy column
# after each metric), then a summary of refproxy / best peer for every figure, with the
# number of rounds in which refproxy beat that peer (paired by round: both ran in the same
# round, minutes apart, so slow drifts of the shared machine cancel).
# Written for mawk too (no asort): medians by insertion sort.
function fmt(v) {
    if (v == "") return "—"
    if (v >= 100 || v <= -100) return sprintf("%.0f", v)
    if (v >= 1 || v <= -1) return sprintf("%.2f", v)
    return sprintf("%.3f", v)
}
function median(key,    n, i, j, t, a) {
    n = cnt[key]
    if (n == 0) return ""
    for (i = 1; i <= n; i++) a[i] = val[key, i] + 0
    for (i = 2; i <= n; i++) {
        t = a[i]
        for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
    }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function higher_better(metric) { return metric ~ /req\/s/ }
{
    ph = $1; me = $2; pe = $3
    if (!(ph in seenph)) { seenph[ph] = 1; phases[++nph] = ph }
    if (!((ph, me) in seenme)) { seenme[ph, me] = 1; nme[ph]++; metrics[ph, nme[ph]] = me }
    if (!((ph, pe) in seenpe)) { seenpe[ph, pe] = 1; npe[ph]++; peers[ph, npe[ph]] = pe }
    k = ph SUBSEP me SUBSEP pe
    val[k, ++cnt[k]] = $5
    inround[k, $4] = $5
    if (!((ph, $4) in seenround)) { seenround[ph, $4] = 1; rounds[ph, ++nround[ph]] = $4 }
}
# "k/n": of the n rounds where both have a value, in how many refproxy was better
# (", t tied" when some were equal, as req/s is at a fixed offered load).
function rounds_better(ph, me, pe,    i, r, a, b, k, n, t) {
    k = n = t = 0
    for (i = 1; i <= nround[ph]; i++) {
        r = rounds[ph, i]
        a = ph SUBSEP me SUBSEP "refproxy"; b = ph SUBSEP me SUBSEP pe
        if (!((a, r) in inround) || !((b, r) in inround)) continue
        n++
        if (inround[a, r] + 0 == inround[b, r] + 0) t++
        else if (higher_better(me) ? inround[a, r] + 0 > inround[b, r] + 0 \
                                   : inround[a, r] + 0 < inround[b, r] + 0) k++
    }
    return k "/" n (t ? ", " t " tied" : "")
}
END {
    print "## Medians"
    for (i = 1; i <= nph; i++) {
        ph = phases[i]
        print ""
        print "### " ph
        print ""
        head = "| peer |"; line = "|---|"
        for (m = 1; m <= nme[ph]; m++) {
            head = head " " metrics[ph, m] " | x ref |"; line = line "---:|---:|"
        }
        print head; print line
        for (p = 1; p <= npe[ph]; p++) {
            pe = peers[ph, p]; row = "| " pe " |"
            for (m = 1; m <= nme[ph]; m++) {
                me = metrics[ph, m]
                v = median(ph SUBSEP me SUBSEP pe); r = median(ph SUBSEP me SUBSEP "refproxy")
                ratio = (v != "" && r != "" && r + 0 != 0) ? sprintf("%.2f", v / r) : "—"
                row = row " " fmt(v) " | " ratio " |"
            }
            print row
        }
    }
    print ""
    print "## refproxy / best peer"
    print ""
    print "Best = highest req/s, lowest everything else, among the other proxies (not the"
    print "origin candidates or refproxy+prof). refproxy+prof / refproxy is the profiler's cost."
    print "CPU us/req is the proxy's own CPU time per request; where a proxy's core was not"
    print "busy (CPU busy % well under 100) the run was limited by CPU 1 (origin and load"
    print "generators), and CPU us/req, not req/s, is the figure that compares proxies."
    print "Rounds better: in how many rounds refproxy beat that peer, round by round. Two"
    print "equal proxies split the rounds; with 5 rounds, 5/5 or 0/5 happens by chance 1 time"
    print "in 16 (two-sided sign test), 4/5 or 1/5 in 3 of 8: only the extremes say more than"
    print "the medians do."
    print ""
    print "| figure | refproxy | best peer | its value | refproxy / best | refproxy leads | rounds better |"
    print "|---|---:|---|---:|---:|---|---:|"
    for (i = 1; i <= nph; i++) {
        ph = phases[i]
        if (ph == "origin") continue
        for (m = 1; m <= nme[ph]; m++) {
            me = metrics[ph, m]
            if (me ~ /busy/) continue # how saturated the core was: context, not a score
            r = median(ph SUBSEP me SUBSEP "refproxy")
            best = ""; bv = ""
            for (p = 1; p <= npe[ph]; p++) {
                pe = peers[ph, p]
                if (pe == "refproxy" || pe ~ /\+prof$/) continue
                v = median(ph SUBSEP me SUBSEP pe)
                if (v == "") continue
                better = higher_better(me) ? v + 0 > bv + 0 : v + 0 < bv + 0
                if (bv == "" || better) { bv = v; best = pe }
            }
            if (r == "" || bv == "") continue
            ratio = (bv + 0 != 0) ? sprintf("%.2f", r / bv) : "—"
            lead = (higher_better(me) ? r + 0 >= bv + 0 : r + 0 <= bv + 0) ? "yes" : "**no**"
            print "| " ph ": " me " | " fmt(r) " | " best " | " fmt(bv) " | " ratio " | " lead \
                " | " rounds_better(ph, me, best) " |"
        }
    }
    if (("small N=1 wrk" SUBSEP "req/s" SUBSEP "refproxy+prof") in cnt) {
        a = median("small N=1 wrk" SUBSEP "req/s" SUBSEP "refproxy")
        b = median("small N=1 wrk" SUBSEP "req/s" SUBSEP "refproxy+prof")
        print ""
        printf "CPU profile running (100 Hz) vs not, wrk N=1: %s vs %s req/s, cost %.1f%%" \
            " (target < 3%%)\n", fmt(b), fmt(a), 100 * (1 - b / a)
    }
}
