package cache

import (
	"context"
	"testing"
)

// TestExecPropertiesInKey: an action's platform properties are part of its
// key (they may pick another worker, another machine); the order they were
// given in is not.
func TestExecPropertiesInKey(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, sampleFiles)
	c := openCache(t, t.TempDir(), root, Options{})
	defer closeCache(t, c)
	key := func(props map[string]string) string {
		a := sampleGraph()[0]
		a.Edit().ExecProperties = props
		ki, err := c.computeKey(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		return ki.key
	}
	none := key(nil)
	linux := key(map[string]string{"OSFamily": "linux"})
	both := key(map[string]string{"OSFamily": "linux", "Pool": "big"})
	if none == linux || linux == both || none == both {
		t.Errorf("keys do not depend on the platform: %s %s %s", none, linux, both)
	}
	if again := key(map[string]string{"Pool": "big", "OSFamily": "linux"}); again != both {
		t.Errorf("the same properties give another key: %s, %s", again, both)
	}
	if empty := key(map[string]string{}); empty != none {
		t.Errorf("no properties and an empty set differ: %s, %s", empty, none)
	}
}
