# Reference values for impact.power.two_sample, generated with R pwr.
# Run: Rscript tests/power/reference/make_pwr_reference.R > tests/power/reference/pwr_reference.csv
# Software: R 4.2.2 (Debian bookworm r-base-core), pwr 1.3-0 (Debian r-cran-pwr).
# Cases P1-P4 and P7-P10 are those of ../shared/research/matching_power.md section 4.4;
# X1-X4 are extra cases (one-sided "less", alpha = 0.1, unequal arms) run the same way.
suppressPackageStartupMessages(library(pwr))
f <- function(x) format(x, digits = 17)
row <- function(case, call, solve, n1, n2, d, power, alpha, alt, value) {
  cat(paste(case, shQuote(call, type = "cmd"), solve, n1, n2, d, power, alpha, alt, f(value), sep = ","), "\n", sep = "")
}
cat("case,call,solve_for,n_treated,n_control,effect,power,alpha,alternative,value\n")
row("P1", "pwr.t.test(d=.5, power=.8)", "n_treated", "NA", "NA", 0.5, 0.8, 0.05, "two-sided",
    pwr.t.test(d = .5, power = .8)$n)
row("P2", "pwr.t.test(d=.5, n=20)", "power", 20, 20, 0.5, "NA", 0.05, "two-sided",
    pwr.t.test(d = .5, n = 20)$power)
row("P3", "pwr.t.test(n=50, power=.8)", "effect", 50, 50, "NA", 0.8, 0.05, "two-sided",
    pwr.t.test(n = 50, power = .8)$d)
row("P4", "pwr.t.test(d=.5, power=.8, alternative='greater')", "n_treated", "NA", "NA", 0.5, 0.8, 0.05, "larger",
    pwr.t.test(d = .5, power = .8, alternative = "greater")$n)
row("P7", "pwr.t2n.test(n1=15, n2=135, d=.5)", "power", 15, 135, 0.5, "NA", 0.05, "two-sided",
    pwr.t2n.test(n1 = 15, n2 = 135, d = .5)$power)
row("P8", "pwr.t2n.test(n1=15, n2=135, power=.8)", "effect", 15, 135, "NA", 0.8, 0.05, "two-sided",
    pwr.t2n.test(n1 = 15, n2 = 135, power = .8)$d)
row("P9", "pwr.t2n.test(n1=5, n2=145, power=.8)", "effect", 5, 145, "NA", 0.8, 0.05, "two-sided",
    pwr.t2n.test(n1 = 5, n2 = 145, power = .8)$d)
row("P10", "pwr.t2n.test(n1=3, n2=147, d=1)", "power", 3, 147, 1, "NA", 0.05, "two-sided",
    pwr.t2n.test(n1 = 3, n2 = 147, d = 1)$power)
row("X1", "pwr.t2n.test(n1=10, n2=140, d=-.8, alternative='less')", "power", 10, 140, -0.8, "NA", 0.05, "smaller",
    pwr.t2n.test(n1 = 10, n2 = 140, d = -.8, alternative = "less")$power)
row("X2", "pwr.t2n.test(n1=8, n2=100, power=.9, sig.level=.1)", "effect", 8, 100, "NA", 0.9, 0.1, "two-sided",
    pwr.t2n.test(n1 = 8, n2 = 100, power = .9, sig.level = .1)$d)
row("X3", "pwr.t2n.test(n1=20, n2=40, d=.6)", "power", 20, 40, 0.6, "NA", 0.05, "two-sided",
    pwr.t2n.test(n1 = 20, n2 = 40, d = .6)$power)
row("X4", "pwr.t.test(d=.25, power=.9, sig.level=.01)", "n_treated", "NA", "NA", 0.25, 0.9, 0.01, "two-sided",
    pwr.t.test(d = .25, power = .9, sig.level = .01)$n)
