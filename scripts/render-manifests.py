#!/usr/bin/python3
"""Renders a kustomization (deploy/overlays/<name>) to one YAML stream on stdout,
for CI validation where no kustomize binary can be installed (it is in neither
Debian nor PyPI). Supports the subset deploy/ uses, and fails on anything else:
resources (files and folders with a kustomization.yaml), namespace, images
(newName/newTag), patches (path: strategic merge by kind and name; lists of
objects with a "name" merge by name, other lists are replaced).

  scripts/render-manifests.py deploy/overlays/cpu > rendered.yaml
"""
import copy, os, sys

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}


def merge(base, patch):
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    if (isinstance(base, list) and isinstance(patch, list) and
            all(isinstance(x, dict) and "name" in x for x in base + patch)):
        out = [copy.deepcopy(x) for x in base]
        names = [x["name"] for x in out]
        for item in patch:
            if item["name"] in names:
                i = names.index(item["name"])
                out[i] = merge(out[i], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def containers(doc):
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", []) + spec.get("initContainers", [])


def render(folder):
    with open(os.path.join(folder, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    unknown = set(k) - SUPPORTED
    if unknown:
        sys.exit(f"render-manifests: {folder}: unsupported fields {sorted(unknown)}")
    docs = []
    for r in k.get("resources", []):
        path = os.path.join(folder, r)
        if os.path.isdir(path):
            docs += render(path)
        else:
            with open(path) as f:
                docs += [d for d in yaml.safe_load_all(f) if d]
    for p in k.get("patches", []):
        if set(p) != {"path"}:
            sys.exit(f"render-manifests: {folder}: only 'path' patches are supported")
        with open(os.path.join(folder, p["path"])) as f:
            patch = yaml.safe_load(f)
        targets = [i for i, d in enumerate(docs) if d["kind"] == patch["kind"] and
                   d["metadata"]["name"] == patch["metadata"]["name"]]
        if len(targets) != 1:
            sys.exit(f"render-manifests: patch {p['path']} matches {len(targets)} objects")
        docs[targets[0]] = merge(docs[targets[0]], patch)
    for image in k.get("images", []):
        for d in docs:
            for c in containers(d):
                if c["image"].split(":")[0] == image["name"]:
                    c["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    if "namespace" in k:
        for d in docs:
            d["metadata"]["namespace"] = k["namespace"]
    return docs


if __name__ == "__main__":
    yaml.safe_dump_all(render(sys.argv[1]), sys.stdout, sort_keys=False)
