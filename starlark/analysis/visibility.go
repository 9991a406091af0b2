package analysis

import (
	"context"
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"bld/starlark/label"
	"bld/starlark/loading"
)

// checkVisibility reports an error if t may not depend on dep
// (loading/visibility.go has the rules). e is t's entry, which reads the
// packages of the package_groups in dep's visibility.
func (a *Analyzer) checkVisibility(ctx context.Context, e *entry, t, dep *loading.Target) error {
	if dep.Visibility == nil || dep.Label.Pkg == t.Label.Pkg {
		return nil
	}
	for _, v := range dep.Visibility {
		ok, err := a.visibleTo(ctx, e, v, t.Label.Pkg, dep, map[label.Label]bool{})
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	vis := make([]string, len(dep.Visibility))
	for i, v := range dep.Visibility {
		vis[i] = fmt.Sprintf("%q", v)
	}
	return fmt.Errorf("%s: %s %s depends on %s, which is not visible to package //%s: its visibility is [%s] (%s); add \"//%s:__pkg__\" to it, or a package_group holding //%s",
		t.Pos, t.Rule.Name(), t.Label, dep.Label, t.Label.Pkg, strings.Join(vis, ", "), dep.Pos, t.Label.Pkg, t.Label.Pkg)
}

// visibleTo reports whether the visibility entry v admits package pkg.
// seen guards against package_groups that include each other.
func (a *Analyzer) visibleTo(ctx context.Context, e *entry, v label.Label, pkg string, dep *loading.Target, seen map[label.Label]bool) (bool, error) {
	switch {
	case v.Pkg == "visibility" && v.Name == "public":
		return true, nil
	case v.Pkg == "visibility" && v.Name == "private":
		return false, nil
	case v.Name == "__pkg__":
		return pkg == v.Pkg, nil
	case v.Name == "__subpackages__":
		return v.Pkg == "" || pkg == v.Pkg || strings.HasPrefix(pkg, v.Pkg+"/"), nil
	}
	if seen[v] {
		return false, nil
	}
	seen[v] = true
	p, err := a.loadPackage(ctx, e, v.Pkg)
	if err != nil {
		return false, fmt.Errorf("%s: the visibility of %s names %s: %w", dep.Pos, dep.Label, v, err)
	}
	g, ok := p.Targets[v.Name]
	if !ok || !isBuiltinRule(g, "package_group") {
		return false, fmt.Errorf("%s: the visibility of %s names %s, which is not a package_group (nor //visibility:public, :private, //pkg:__pkg__ or //pkg:__subpackages__)",
			dep.Pos, dep.Label, v)
	}
	for _, spec := range stringList(g.Attr("packages")) {
		switch {
		case spec == "//..." || spec == "public":
			return true, nil
		case strings.HasSuffix(spec, "/..."):
			base := strings.TrimPrefix(strings.TrimSuffix(spec, "/..."), "//")
			if pkg == base || strings.HasPrefix(pkg, base+"/") {
				return true, nil
			}
		case strings.HasPrefix(spec, "//"):
			if pkg == strings.TrimPrefix(spec, "//") {
				return true, nil
			}
		default:
			return false, fmt.Errorf("%s: package_group %s: %q is not a package specification; write //pkg or //pkg/...", g.Pos, g.Label, spec)
		}
	}
	for _, inc := range stringList(g.Attr("includes")) {
		l, err := label.Parse(inc, "", g.Label.Pkg)
		if err != nil {
			return false, fmt.Errorf("%s: package_group %s: includes %q: %v", g.Pos, g.Label, inc, err)
		}
		if ok, err := a.visibleTo(ctx, e, l, pkg, dep, seen); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

func stringList(v starlark.Value) []string {
	l, ok := v.(*starlark.List)
	if !ok {
		return nil
	}
	out := make([]string, 0, l.Len())
	for i := range l.Len() {
		if s, ok := l.Index(i).(starlark.String); ok {
			out = append(out, string(s))
		}
	}
	return out
}
