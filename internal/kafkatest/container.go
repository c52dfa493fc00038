package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// DefaultImage is the Kafka image the container path runs when
// EQLSTREAM_KAFKA_IMAGE is unset (built from deployments/kafka/image when
// the engine does not have it).
const DefaultImage = "eqlstream/kafka:4.1.1"

// Label is set on every container started here (beside testcontainers'
// own org.testcontainers labels), so leftovers of a killed test binary can
// be removed: docker rm -f $(docker ps -aq --filter label=org.eqlstream.test).
const Label = "org.eqlstream.test"

// advertisedFile is where the container's entrypoint waits for the address
// clients use for its port 9092: the host and the port the engine mapped,
// known only once the container has started.
const advertisedFile = "/tmp/eqlstream-advertised"

// engine returns a Docker provider when an engine answers within seconds.
func engine() (p *testcontainers.DockerProvider, err error) {
	defer func() {
		// testcontainers-go panics on some broken configurations.
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("container engine: %v", r)
		}
	}()
	p, err = testcontainers.NewDockerProvider()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.Client().Ping(ctx, client.PingOptions{}); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// startContainer starts one Kafka node with testcontainers-go and waits
// until it logs "Kafka Server started".
func startContainer(p *testcontainers.DockerProvider) (*Cluster, error) {
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	image := os.Getenv("EQLSTREAM_KAFKA_IMAGE")
	if image == "" {
		image = DefaultImage
	}
	req := testcontainers.ContainerRequest{
		Image:        image,
		ExposedPorts: []string{"9092/tcp"},
		Env:          map[string]string{"KAFKA_EXTERNAL_ADVERTISED": "file:" + advertisedFile},
		Labels:       map[string]string{Label: "kafka"},
		WaitingFor:   wait.ForLog("Kafka Server started").WithStartupTimeout(3 * time.Minute),
		LifecycleHooks: []testcontainers.ContainerLifecycleHooks{{
			PostStarts: []testcontainers.ContainerHook{advertise},
		}},
	}
	if !imageExists(ctx, p, image) {
		fd, err := buildSpec(image)
		if err != nil {
			return nil, err
		}
		logf("image %s not found: building it from %s (Kafka jars from Maven Central)", image, fd.Context)
		req.Image, req.FromDockerfile = "", fd
	}
	t0 := time.Now()
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if err != nil {
		_ = testcontainers.TerminateContainer(c, testcontainers.StopTimeout(10*time.Second))
		return nil, fmt.Errorf("starting Kafka (%s) with testcontainers-go: %w", image, err)
	}
	addr, err := c.PortEndpoint(ctx, "9092/tcp", "")
	if err != nil {
		_ = testcontainers.TerminateContainer(c, testcontainers.StopTimeout(10*time.Second))
		return nil, err
	}
	id := c.GetContainerID()
	short := id[:min(12, len(id))]
	logf("container %s (%s) started, Kafka ready at %s in %.1fs", short, image, addr, time.Since(t0).Seconds())
	stop := func() error {
		// The entrypoint execs the JVM, which stops on SIGTERM within seconds.
		if err := testcontainers.TerminateContainer(c, testcontainers.StopTimeout(30*time.Second)); err != nil {
			return err
		}
		logf("container %s removed", short)
		return nil
	}
	return &Cluster{Brokers: []string{addr}, Source: FromTestcontainers, Desc: "container " + short + " " + image, stop: stop}, nil
}

// advertise writes the host's address of the container's port 9092 where
// the entrypoint waits for it.
func advertise(ctx context.Context, c testcontainers.Container) error {
	addr, err := c.PortEndpoint(ctx, "9092/tcp", "")
	if err != nil {
		return err
	}
	return c.CopyToContainer(ctx, []byte(addr+"\n"), advertisedFile, 0o644)
}

func imageExists(ctx context.Context, p *testcontainers.DockerProvider, image string) bool {
	_, err := p.Client().ImageInspect(ctx, image)
	return err == nil
}

// buildSpec builds image (repo:tag) from deployments/kafka/image with the
// build arguments EQLSTREAM_KAFKA_IMAGE_BASE and EQLSTREAM_KAFKA_IMAGE_MAVEN
// when set; the image is kept for the next run.
func buildSpec(image string) (testcontainers.FromDockerfile, error) {
	root, err := RepoRoot()
	if err != nil {
		return testcontainers.FromDockerfile{}, err
	}
	repo, tag, ok := strings.Cut(image[strings.LastIndex(image, "/")+1:], ":")
	if !ok || tag == "" {
		return testcontainers.FromDockerfile{}, errors.New("EQLSTREAM_KAFKA_IMAGE must name a tag (repo:tag): " + image)
	}
	repo = image[:strings.LastIndex(image, "/")+1] + repo
	args := map[string]*string{}
	for env, arg := range map[string]string{"EQLSTREAM_KAFKA_IMAGE_BASE": "BASE", "EQLSTREAM_KAFKA_IMAGE_MAVEN": "MAVEN_IMAGE"} {
		if v := os.Getenv(env); v != "" {
			args[arg] = &v
		}
	}
	return testcontainers.FromDockerfile{
		Context:        filepath.Join(root, "deployments", "kafka", "image"),
		Repo:           repo,
		Tag:            tag,
		BuildArgs:      args,
		KeepImage:      true,
		BuildLogWriter: os.Stderr,
	}, nil
}
