# Provenance of the values in this folder (run by the research helper with MatchIt 4.7.2,
# sandwich 3.0-2, R 4.2.2; see README.md). Not run by the test suite.
library(MatchIt); library(sandwich)
d <- read.csv("lalonde_matchit.csv")
f <- treat ~ age + educ + race + married + nodegree + re74 + re75
specs <- list(A = list(), B = list(caliper = 0.2), C = list(replace = TRUE),
              D = list(replace = TRUE, caliper = 0.2),
              E = list(caliper = 0.2, link = "linear.logit"),
              F = list(distance = "mahalanobis", replace = TRUE))
for (s in names(specs)) {
  m <- do.call(matchit, c(list(f, data = d, method = "nearest"), specs[[s]]))
  md <- match.data(m)
  fit <- lm(re78 ~ treat, data = md, weights = weights)
  print(c(coef(fit)[2], sqrt(vcovHC(fit, type = "HC3")[2, 2])))
  print(summary(m))
}
