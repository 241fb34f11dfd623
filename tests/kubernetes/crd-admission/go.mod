// The releases whose CRD code check.sh asks are go.<major.minor>.mod (with their go.<major.minor>.sum):
// this file only marks the module root that `go build -modfile` needs.
module omkc.dev/tests/kubernetes/crd-admission

go 1.22
