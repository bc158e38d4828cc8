package config

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The deploy/ directory cannot be exercised without a container engine or
// a cluster here; these tests hold what can be checked offline: every YAML
// file parses, every Tollgate config in it loads, and the manifests agree
// with the configs they mount.

const deployDir = "../deploy"

// yamlDocs decodes every document of a YAML file into generic values.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// dig walks nested maps and lists: keys are map keys or list indexes.
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: not a mapping", path)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at %v: not a list with index %d", path, k)
			}
			v = l[k]
		}
	}
	return v
}

func TestDeployYAMLParses(t *testing.T) {
	var files []string
	err := filepath.WalkDir(deployDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d YAML files under %s: %v", len(files), deployDir, files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			if len(yamlDocs(t, f)) == 0 {
				t.Errorf("no document")
			}
		})
	}
}

func TestDeployConfigsLoad(t *testing.T) {
	cases := []struct {
		file  string
		check func(*Config) bool
	}{
		{"tollgate.example.yaml", func(c *Config) bool { return c.Proxy.Listen == "127.0.0.1:3128" }},
		{"tollgate.container.yaml", func(c *Config) bool {
			return c.Proxy.Listen == "0.0.0.0:3128" && c.Control.Listen == "0.0.0.0:9090" && c.DataDir == "/var/lib/tollgate"
		}},
		{"tollgate.replicas.yaml", func(c *Config) bool {
			return c.Store.Driver == DriverPostgres && c.Quota.Backend == BackendRedis &&
				!strings.Contains(c.Store.DSN, ":@") && !regexp.MustCompile(`//[^/@]*:[^/@]*@`).MatchString(c.Store.DSN)
		}},
		{"systemd/tollgate.yaml", func(c *Config) bool { return c.DataDir == "/var/lib/tollgate" }},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			c, err := Load(filepath.Join(deployDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("unexpected config:\n%s", dump(c))
			}
		})
	}
}

func TestKubernetesManifests(t *testing.T) {
	dir := filepath.Join(deployDir, "kubernetes")
	kinds := map[string]map[string]any{}
	for _, f := range []string{"configmap.yaml", "deployment.yaml", "service.yaml", "networkpolicy.yaml", "pdb.yaml"} {
		for _, doc := range yamlDocs(t, filepath.Join(dir, f)) {
			kinds[doc["kind"].(string)] = doc
		}
	}
	for _, k := range []string{"ConfigMap", "Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget"} {
		if kinds[k] == nil {
			t.Fatalf("no %s manifest", k)
		}
	}
	kust := yamlDocs(t, filepath.Join(dir, "kustomization.yaml"))[0]
	if res, _ := kust["resources"].([]any); len(res) != 5 {
		t.Errorf("kustomization lists %d resources, want 5", len(res))
	}

	cfgText, _ := dig(t, kinds["ConfigMap"], "data", "tollgate.yaml").(string)
	cfg, err := Parse([]byte(cfgText), "configmap.yaml#tollgate.yaml")
	if err != nil {
		t.Fatalf("ConfigMap config: %v", err)
	}

	pod := dig(t, kinds["Deployment"], "spec", "template", "spec")
	ctr := dig(t, pod, "containers", 0)
	sc := dig(t, ctr, "securityContext")
	mounts := map[string]string{}
	for _, m := range dig(t, ctr, "volumeMounts").([]any) {
		mm := m.(map[string]any)
		mounts[mm["name"].(string)] = mm["mountPath"].(string)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"readiness on /readyz", dig(t, ctr, "readinessProbe", "httpGet", "path") == "/readyz"},
		{"liveness on /healthz", dig(t, ctr, "livenessProbe", "httpGet", "path") == "/healthz"},
		{"read-only root", dig(t, sc, "readOnlyRootFilesystem") == true},
		{"no privilege escalation", dig(t, sc, "allowPrivilegeEscalation") == false},
		{"drops all capabilities", dig(t, sc, "capabilities", "drop", 0) == "ALL"},
		{"pod non-root", dig(t, pod, "securityContext", "runAsNonRoot") == true && dig(t, pod, "securityContext", "runAsUser") != 0},
		{"serves the mounted config", slices.Equal(toStrings(dig(t, ctr, "args")), []string{"serve", "--config", mounts["config"] + "/tollgate.yaml"})},
		{"data_dir is a writable mount", mounts["data"] == cfg.DataDir},
		{"CA files are in the CA mount", filepath.Dir(cfg.Intercept.CACertFile) == mounts["intercept-ca"] && filepath.Dir(cfg.Intercept.CAKeyFile) == mounts["intercept-ca"]},
		{"listens on every interface", strings.HasPrefix(cfg.Proxy.Listen, "0.0.0.0:") && strings.HasPrefix(cfg.Control.Listen, "0.0.0.0:")},
		{"shared store and quotas", cfg.Store.Driver == DriverPostgres && cfg.Quota.Backend == BackendRedis},
		{"several replicas", dig(t, kinds["Deployment"], "spec", "replicas") == 2},
		{"PDB keeps one", dig(t, kinds["PodDisruptionBudget"], "spec", "minAvailable") == 1},
		{"service ports", dig(t, kinds["Service"], "spec", "ports", 0, "port") == 3128 && dig(t, kinds["Service"], "spec", "ports", 1, "port") == 9090},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Error("does not hold")
			}
		})
	}

	// NetworkPolicy egress: DNS on 53, the internet on 80 and 443 only, and
	// every excepted range a canonical CIDR.
	ports := map[int]bool{}
	for _, rule := range dig(t, kinds["NetworkPolicy"], "spec", "egress").([]any) {
		for _, p := range dig(t, rule, "ports").([]any) {
			ports[dig(t, p, "port").(int)] = true
		}
		for _, to := range dig(t, rule, "to").([]any) {
			blk, ok := to.(map[string]any)["ipBlock"]
			if !ok {
				continue
			}
			for _, s := range append([]any{dig(t, blk, "cidr")}, dig(t, blk, "except").([]any)...) {
				if _, err := ParseCIDR(s.(string)); err != nil {
					t.Errorf("NetworkPolicy: %v", err)
				}
			}
		}
	}
	for _, p := range []int{53, 80, 443} {
		if !ports[p] {
			t.Errorf("NetworkPolicy egress does not allow port %d", p)
		}
	}
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, len(l))
	for i, e := range l {
		out[i], _ = e.(string)
	}
	return out
}

func TestCompose(t *testing.T) {
	doc := yamlDocs(t, filepath.Join(deployDir, "compose.yaml"))[0]
	svc := dig(t, doc, "services", "tollgate")
	for _, name := range []string{"postgres", "redis"} {
		if dig(t, doc, "services", name) == nil {
			t.Errorf("no %s service", name)
		}
	}
	if dig(t, svc, "deploy", "replicas").(int) < 2 {
		t.Error("tollgate is not replicated")
	}
	if dig(t, svc, "build", "dockerfile") != "deploy/Dockerfile" {
		t.Error("tollgate is not built from deploy/Dockerfile")
	}
	var cfgSrc string
	for _, v := range dig(t, svc, "volumes").([]any) {
		if src, dst, _ := strings.Cut(v.(string), ":"); strings.HasPrefix(dst, "/etc/tollgate/tollgate.yaml") {
			cfgSrc = src
		}
	}
	if cfgSrc == "" {
		t.Fatal("compose does not mount a config at /etc/tollgate/tollgate.yaml")
	}
	c, err := Load(filepath.Join(deployDir, cfgSrc))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Driver != DriverPostgres || c.Quota.Backend != BackendRedis {
		t.Errorf("compose config is not the shared-store one: %s", cfgSrc)
	}
	if !strings.Contains(c.Store.DSN, "@postgres:") || !strings.Contains(c.Quota.RedisURL, "//redis:") {
		t.Errorf("compose config does not point at the compose services: %s %s", c.Store.DSN, c.Quota.RedisURL)
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	var froms, users []string
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == "FROM" {
			froms = append(froms, f[1])
		}
		if len(f) > 1 && f[0] == "USER" {
			users = append(users, f[1])
		}
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"multi-stage", len(froms) >= 2 && strings.HasPrefix(froms[0], "golang:")},
		{"static final image", froms[len(froms)-1] == "gcr.io/distroless/static:nonroot" || froms[len(froms)-1] == "scratch"},
		{"static build", strings.Contains(s, "CGO_ENABLED=0 go build -trimpath") && strings.Contains(s, "./cmd/tollgate")},
		{"non-root user", len(users) > 0 && !slices.Contains([]string{"root", "0", "0:0"}, users[len(users)-1])},
		{"exposes both listeners", regexp.MustCompile(`(?m)^EXPOSE 3128 9090$`).MatchString(s)},
		{"runs serve with the config", strings.Contains(s, `CMD ["serve", "--config", "/etc/tollgate/tollgate.yaml"]`)},
		{"data volume", strings.Contains(s, `VOLUME ["/var/lib/tollgate"]`)},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Error("does not hold")
			}
		})
	}
	m := regexp.MustCompile(`(?m)^COPY (deploy/\S+\.yaml) /etc/tollgate/tollgate.yaml$`).FindStringSubmatch(s)
	if m == nil {
		t.Fatal("no config copied to /etc/tollgate/tollgate.yaml")
	}
	if _, err := Load(filepath.Join("..", m[1])); err != nil {
		t.Errorf("image config: %v", err)
	}
}

func TestSystemdUnit(t *testing.T) {
	f, err := os.Open(filepath.Join(deployDir, "systemd", "tollgate.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settings := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("malformed line %q", line)
		}
		settings[k] = append(settings[k], v)
	}
	want := map[string]string{
		"DynamicUser":             "yes",
		"ProtectSystem":           "strict",
		"StateDirectory":          "tollgate",
		"NoNewPrivileges":         "yes",
		"CapabilityBoundingSet":   "",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"ExecStart":               "/usr/local/bin/tollgate serve --config /etc/tollgate/tollgate.yaml",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
	}
	for k, v := range want {
		t.Run(k, func(t *testing.T) {
			if got := settings[k]; len(got) != 1 || got[0] != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		})
	}
}
