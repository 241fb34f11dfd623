// Command admit asks one Kubernetes release's own CRD code whether its API server would create
// the CustomResourceDefinitions in the files given: the registry strategy the API server runs on
// a create (PrepareForCreate, Validate, WarningsOnCreate), which compiles every CEL rule in that
// release's CEL environment and checks its cost against that release's budget. Built once per
// release, from go.<major.minor>.mod (check.sh).
//
//	admit FILE...   prints "FILE: admitted" for each; a refusal or a warning goes to stderr
//	                and makes the exit status 1
//	admit --cel     reads {"crd": CRD, "new": OBJECT, "old": OBJECT or absent} on stdin and
//	                evaluates the CRD's CEL rules on the object, as that release's API server
//	                does on a create (no old) or an update; a refusal goes to stderr and makes
//	                the exit status 1, a request it cannot answer 2. The tests' CEL scenarios
//	                ask it (OMKC_TEST_CEL_CHECKER)
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	v1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresourcedefinition"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// The API server's CEL limits (k8s.io/apiserver/pkg/apis/cel; in the CEL package before 1.27),
// the same in every release here.
const (
	perCallLimit         = 1000000
	runtimeCELCostBudget = 10000000
)

func main() {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{apiextensions.AddToScheme, v1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	if len(os.Args) == 2 && os.Args[1] == "--cel" {
		refusals, err := evaluate(scheme)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if len(refusals) > 0 {
			fmt.Fprintln(os.Stderr, refusals.ToAggregate())
			os.Exit(1)
		}
		return
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: admit FILE... | admit --cel")
		os.Exit(2)
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
	if failed {
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
	return decode(scheme, raw)
}

func decode(scheme *runtime.Scheme, raw []byte) (*apiextensions.CustomResourceDefinition, error) {
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

// evaluate answers --cel: the refusals of the rules of the CRD's first version, on the object.
func evaluate(scheme *runtime.Scheme) (field.ErrorList, error) {
	var request struct {
		CRD json.RawMessage        `json:"crd"`
		New map[string]interface{} `json:"new"`
		Old map[string]interface{} `json:"old"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&request); err != nil {
		return nil, err
	}
	crd, err := decode(scheme, request.CRD)
	if err != nil {
		return nil, err
	}
	if request.New == nil {
		return nil, fmt.Errorf("no object to evaluate (\"new\")")
	}
	// The internal version holds a schema all versions share at the top.
	validation := crd.Spec.Validation
	if validation == nil {
		validation = crd.Spec.Versions[0].Schema
	}
	structural, err := schema.NewStructural(validation.OpenAPIV3Schema)
	if err != nil {
		return nil, err
	}
	validator := cel.NewValidator(structural, true, perCallLimit)
	if validator == nil {
		return nil, fmt.Errorf("the CRD has no CEL rule")
	}
	var old interface{}
	if request.Old != nil {
		old = request.Old
	}
	refusals, _ := validator.Validate(context.Background(), nil, structural, request.New, old, runtimeCELCostBudget)
	return refusals, nil
}
