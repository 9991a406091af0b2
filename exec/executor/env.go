package executor

// dedupEnv returns env without the entries a later one of the same name
// overrides, as os/exec passes it; env itself when no name repeats (the
// usual case, checked without allocating).
func dedupEnv(env []string) []string {
	dup := false
	for i := 1; i < len(env) && !dup; i++ {
		k := envName(env[i])
		for _, e := range env[:i] {
			if envName(e) == k {
				dup = true
				break
			}
		}
	}
	if !dup {
		return env
	}
	seen := make(map[string]bool, len(env))
	out := make([]string, 0, len(env))
	for i := len(env) - 1; i >= 0; i-- {
		if k := envName(env[i]); !seen[k] {
			seen[k] = true
			out = append(out, env[i])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// envName is the name of the environment entry kv ("NAME=value").
func envName(kv string) string {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i]
		}
	}
	return kv
}
