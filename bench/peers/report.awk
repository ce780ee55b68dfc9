# report.awk: bench/peers.sh's raw figures -> the markdown tables of RESULTS.md.
# Input (tab-separated): phase, metric, peer, round, value — one line per measurement.
# Output: per phase a table of medians (rows = peers, a "x ref" = peer / refproxy column
# after each metric), then a summary of refproxy / best peer for every figure, with the
# number of rounds in which refproxy beat that peer (paired by round: both ran in the same
# round, minutes apart, so slow drifts of the shared machine cancel) and a two-sided sign
# test over those rounds: the verdict.
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
# (", t tied" when some were equal, as req/s is at a fixed offered load). Leaves the
# counts in rb_k (better), rb_w (worse) and rb_n (rounds) for verdict().
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
    rb_k = k; rb_w = n - k - t; rb_n = n
    return k "/" n (t ? ", " t " tied" : "")
}
# two-sided sign test: the chance that two equal proxies split the untied rounds at
# least as unevenly as k better against w worse
function sign_p(k, w,    n, m, i, c, s) {
    n = k + w; m = (k < w) ? k : w
    if (n == 0) return 1
    c = 1; s = 0
    for (i = 0; i <= m; i++) { s += c; c = c * (n - i) / (i + 1) }
    s = 2 * s / 2 ^ n
    return (s > 1) ? 1 : s
}
# ahead / behind when the sign test says so at 5% (two-sided), else tie. A figure
# measured once (idle memory, wakeups) is called by its one value.
function verdict(k, w, n,    p) {
    if (n == 1) return k ? "ahead (1 run)" : w ? "**behind** (1 run)" : "tie (1 run)"
    p = sign_p(k, w)
    if (p < 0.05)
        return (k > w ? "ahead" : "**behind**") (p < 0.001 ? ", p < 0.001" : sprintf(", p = %.3f", p))
    return sprintf("tie, p = %.2f", p)
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
    print "busy (CPU busy % well under 100) while CPU 1 was (CPU 1 busy % near 100), the run"
    print "was limited by CPU 1 (origin and load generators), and CPU us/req, not req/s, is"
    print "the figure that compares proxies."
    print "Rounds better: in how many rounds refproxy beat that peer, round by round (both"
    print "ran in the same round, so the shared machine's slow swings cancel). Verdict: a"
    print "two-sided sign test over those rounds (ties left out). Two equal proxies split the"
    print "rounds; \"ahead\" or \"behind\" only when a split that uneven would happen by chance"
    print "less than 5% of the time (p). With 5 rounds even 5/5 is p = 0.06: fewer than 6"
    print "rounds can only say tie. A target \"at or above\" / \"no worse\" is missed only where"
    print "the verdict is behind; the ratio of medians alone does not decide it."
    print ""
    print "| figure | refproxy | best peer | its value | refproxy / best | rounds better | verdict |"
    print "|---|---:|---|---:|---:|---:|---|"
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
            rb = rounds_better(ph, me, best)
            print "| " ph ": " me " | " fmt(r) " | " best " | " fmt(bv) " | " ratio " | " rb \
                " | " verdict(rb_k, rb_w, rb_n) " |"
        }
    }
    profiler_cost("small N=1 wrk")
}
# refproxy with a CPU profile running against refproxy without, paired by round (they run
# back to back): the median of the per-round ratios, and the rounds the profile cost
function profiler_cost(ph,    me, i, r, a, b, n, q, slower, m) {
    if (!((ph SUBSEP "req/s" SUBSEP "refproxy+prof") in cnt)) return
    print ""
    print "CPU profile running (100 Hz) against not, " ph ", run back to back each round" \
        " (target < 3%; bench/profiler_overhead.sh measures the same with more precision):"
    print ""
    print "| figure | median of per-round refproxy+prof / refproxy | rounds the profile cost | sign test |"
    print "|---|---:|---:|---|"
    split("req/s|CPU us/req", m, "|")
    for (i = 1; i <= 2; i++) {
        me = m[i]; n = slower = 0
        for (r = 1; r <= nround[ph]; r++) {
            a = (ph SUBSEP me SUBSEP "refproxy") SUBSEP rounds[ph, r]
            b = (ph SUBSEP me SUBSEP "refproxy+prof") SUBSEP rounds[ph, r]
            if (!(a in inround) || !(b in inround) || inround[a] + 0 == 0) continue
            q = inround[b] / inround[a]
            val["prof", me, ++n] = q
            if (higher_better(me) ? q < 1 : q > 1) slower++
        }
        cnt["prof" SUBSEP me] = n
        if (n == 0) continue
        printf "| %s | %.3f (cost %.1f%%) | %d/%d | %s |\n", me, median("prof" SUBSEP me),
            100 * (higher_better(me) ? 1 - median("prof" SUBSEP me) : median("prof" SUBSEP me) - 1),
            slower, n, sprintf("p = %.2f", sign_p(slower, n - slower))
    }
}
