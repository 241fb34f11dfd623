//go:build tools

// The Kubernetes control plane the e2e suite runs against (cluster.sh builds these commands):
// this module only pins their versions; k8s.io/kubernetes names its own libraries by path,
// hence the replace block in go.mod (one line per staging module, at the release's version).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
