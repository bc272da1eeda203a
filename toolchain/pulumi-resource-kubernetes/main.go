// The pulumi-kubernetes provider's entry point, built by scripts/toolchain.sh.
//
// Upstream's cmd/pulumi-resource-kubernetes embeds two files its release build generates and git
// ignores, so the module the Go proxy serves cannot build it. This main serves the same provider
// package with the files the toolchain script writes beside it: the module's committed schema.json
// (with its version set) and terraform-mapping.json, compacted.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, terraformMapping)
}
