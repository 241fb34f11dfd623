// Command admit asks one Kubernetes release's own CRD code whether its API server would create
// the CustomResourceDefinitions in the files given: the registry strategy the API server runs on
// a create (PrepareForCreate, Validate, WarningsOnCreate), which compiles every CEL rule in that
// release's CEL environment and checks its cost against that release's budget. Built once per
// release, from go.<major.minor>.mod (check.sh).
//
//	admit FILE...   prints "FILE: admitted" for each; a refusal or a warning goes to stderr
//	                and makes the exit status 1
package main

import (
	"context"
	"fmt"
	"os"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	v1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresourcedefinition"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func main() {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{apiextensions.AddToScheme, v1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	strategy := customresourcedefinition.NewStrategy(scheme)
	failed := false
	for _, path := range os.Args[1:] {
		crd, err := read(scheme, path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		ctx := context.Background()
		strategy.PrepareForCreate(ctx, crd)
		refusals := strategy.Validate(ctx, crd)
		for _, refusal := range refusals {
			fmt.Fprintf(os.Stderr, "%s: refused: %v\n", path, refusal)
		}
		warnings := strategy.WarningsOnCreate(ctx, crd)
		for _, warning := range warnings {
			fmt.Fprintf(os.Stderr, "%s: warning: %s\n", path, warning)
		}
		if len(refusals) > 0 || len(warnings) > 0 {
			failed = true
			continue
		}
		fmt.Printf("%s: admitted\n", path)
	}
	if failed || len(os.Args) < 2 {
		os.Exit(1)
	}
}

// read decodes a v1 CustomResourceDefinition as the API server does (unknown fields refused,
// v1 defaults applied) and converts it to the internal version its strategy takes.
func read(scheme *runtime.Scheme, path string) (*apiextensions.CustomResourceDefinition, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var external v1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &external); err != nil {
		return nil, err
	}
	scheme.Default(&external)
	var internal apiextensions.CustomResourceDefinition
	if err := scheme.Convert(&external, &internal, nil); err != nil {
		return nil, err
	}
	return &internal, nil
}
