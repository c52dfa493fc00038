package kafkatest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestBrokersFromEnvAreUsedAsTheyAre(t *testing.T) {
	t.Setenv("KAFKA_BROKERS", " a:1, ,b:2 ")
	c, err := resolve()
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != FromEnv || !reflect.DeepEqual(c.Brokers, []string{"a:1", "b:2"}) || c.stop != nil {
		t.Fatalf("got %+v", c)
	}
}

func TestNoBrokerNoEngineFailsUnderCI(t *testing.T) {
	t.Setenv("KAFKA_BROKERS", "")
	t.Setenv("CI", "true")
	t.Setenv("EQLSTREAM_KAFKA_TESTCONTAINERS", "false")
	c, err := resolve()
	if err == nil || c != nil {
		t.Fatalf("want an error under CI, got %+v", c)
	}
	if errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "KAFKA_BROKERS is required under CI") {
		t.Fatalf("the error must fail the test and name KAFKA_BROKERS: %v", err)
	}
}

func TestNoToolsOutsideCIIsUnavailable(t *testing.T) {
	t.Setenv("KAFKA_BROKERS", "")
	t.Setenv("CI", "")
	t.Setenv("EQLSTREAM_KAFKA_TESTCONTAINERS", "0")
	t.Setenv("PATH", t.TempDir()) // no java, no mvn
	_, err := resolve()
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "java") {
		t.Fatalf("want ErrUnavailable naming java, got %v", err)
	}
}

func TestBuildSpecSplitsTheImageName(t *testing.T) {
	t.Setenv("EQLSTREAM_KAFKA_IMAGE_BASE", "localhost/jre:1")
	for image, want := range map[string][2]string{
		"eqlstream/kafka:4.1.1":              {"eqlstream/kafka", "4.1.1"},
		"localhost:5000/eqlstream/kafka:dev": {"localhost:5000/eqlstream/kafka", "dev"},
		"localhost/eqlstream/kafka:4.1.1":    {"localhost/eqlstream/kafka", "4.1.1"},
	} {
		fd, err := buildSpec(image)
		if err != nil {
			t.Fatal(image, err)
		}
		if fd.Repo != want[0] || fd.Tag != want[1] || !fd.KeepImage || *fd.BuildArgs["BASE"] != "localhost/jre:1" || !strings.HasSuffix(fd.Context, "deployments/kafka/image") {
			t.Fatalf("%s: got repo %q tag %q keep %v context %s", image, fd.Repo, fd.Tag, fd.KeepImage, fd.Context)
		}
	}
	if _, err := buildSpec("localhost:5000/kafka"); err == nil {
		t.Fatal("an image without a tag must be refused")
	}
}
