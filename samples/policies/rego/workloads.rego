# The Rego equivalents of samples/policies/vap, as conftest runs them:
#   conftest test --policy samples/policies/rego <rendered manifests>
package main

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet"}

required_limits := {"cpu", "memory"}

required_labels := {"app.kubernetes.io/name", "team"}

containers contains c if {
	workload_kinds[input.kind]
	some c in input.spec.template.spec.containers
}

deny_limits contains msg if {
	some c in containers
	some resource in required_limits
	not c.resources.limits[resource]
	msg := sprintf("%s/%s: container %s has no resources.limits.%s", [input.kind, input.metadata.name, c.name, resource])
}

deny_privileged contains msg if {
	some c in containers
	c.securityContext.privileged == true
	msg := sprintf("%s/%s: container %s is privileged", [input.kind, input.metadata.name, c.name])
}

deny_latest contains msg if {
	some c in containers
	endswith(c.image, ":latest")
	msg := sprintf("%s/%s: image %s uses the latest tag", [input.kind, input.metadata.name, c.image])
}

deny_latest contains msg if {
	some c in containers
	not contains(c.image, "@")
	parts := split(c.image, "/")
	not contains(parts[count(parts) - 1], ":")
	msg := sprintf("%s/%s: image %s has no tag", [input.kind, input.metadata.name, c.image])
}

violation contains {"msg": msg} if {
	workload_kinds[input.kind]
	some label in required_labels
	not input.metadata.labels[label]
	msg := sprintf("%s/%s: missing required label %s", [input.kind, input.metadata.name, label])
}

# Rego sees the object only (conftest's input): a Secret with data is denied;
# commit a SealedSecret, or a SOPS-encrypted file checked by the VAP instead.
warn contains msg if {
	input.kind == "Secret"
	input.apiVersion == "v1"
	count(object.get(input, "data", {})) + count(object.get(input, "stringData", {})) > 0
	msg := sprintf("Secret/%s: keep Secrets out of Git in plaintext (use SealedSecrets or sops)", [input.metadata.name])
}
