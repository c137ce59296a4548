// Reference renderer for the DAG templates: Go's own text/template plus the `py` function, so the
// hand-checked testdata can be regenerated and the C++ engine's output compared with it.
//
//	go run ./services/compiler/templates/tests/gorender TEMPLATE CONTEXT.json [JOB_PATH] > out.py
//
// CONTEXT.json is either one context object, or {"Common": {...}, "Jobs": {"ns/job": {...}}} where
// each job's object is merged over Common (JOB_PATH picks the job). Missing keys are errors.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

// typed turns the decoder's json.Number values into int64 or float64, as the C++ side holds
// them, so that {{if}} sees 0 as false the way it does for real contexts.
func typed(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = typed(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = typed(x[k])
		}
		return x
	}
	return v
}

// py renders a value as a Python literal (the contract in templates/README.md).
func py(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "None", nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case string:
		return pyString(x), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, err := py(e)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			s, err := py(x[k])
			if err != nil {
				return "", err
			}
			parts = append(parts, pyString(k)+": "+s)
		}
		return "{" + strings.Join(parts, ", ") + "}", nil
	}
	return "", fmt.Errorf("py: unsupported value %T", v)
}

func pyString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func merge(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = merge(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: gorender TEMPLATE CONTEXT.json [JOB_PATH]")
		os.Exit(2)
	}
	text, err := os.ReadFile(os.Args[1])
	check(err)
	raw, err := os.ReadFile(os.Args[2])
	check(err)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var ctx map[string]any
	check(dec.Decode(&ctx))
	ctx = typed(ctx).(map[string]any)
	if jobs, ok := ctx["Jobs"].(map[string]any); ok {
		if len(os.Args) < 4 {
			check(fmt.Errorf("%s holds several jobs: name one of them", os.Args[2]))
		}
		job, ok := jobs[os.Args[3]].(map[string]any)
		if !ok {
			check(fmt.Errorf("no job %q in %s", os.Args[3], os.Args[2]))
		}
		common, _ := ctx["Common"].(map[string]any)
		ctx = merge(common, job)
	}
	tmpl, err := template.New("dag").Option("missingkey=error").Funcs(template.FuncMap{"py": py}).Parse(string(text))
	check(err)
	check(tmpl.Execute(os.Stdout, ctx))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gorender:", err)
		os.Exit(1)
	}
}
