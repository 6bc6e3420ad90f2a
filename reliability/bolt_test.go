package reliability

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/boltstore"
)

// boltChild serves the test application over a boltstore file until it
// is killed. spec is "ADDR FILE".
func boltChild(spec string) int {
	addr, path, _ := strings.Cut(spec, " ")
	store, err := boltstore.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("listening", ln.Addr())
	err = http.Serve(ln, appHandler(newManager(store)))
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// boltServer is a child process of this test binary serving the test
// application from a boltstore file, on a fixed address across restarts.
type boltServer struct {
	addr, path string
	cmd        *exec.Cmd
}

func (s *boltServer) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), boltChildEnv+"="+s.addr+" "+s.path)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("bolt child did not start: %q %v", line, err)
	}
	s.cmd = cmd
}

func (s *boltServer) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
}

// TestBoltKilledMidWrite serves sessions from a boltstore file in a child
// process, kills it with SIGKILL while requests are writing, restarts it
// on the same file, and checks that every session holds every write that
// was acknowledged before the kill.
func TestBoltKilledMidWrite(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	srv := &boltServer{addr: "127.0.0.1:" + strconv.Itoa(port), path: filepath.Join(t.TempDir(), "sessions.db")}
	srv.start(t)
	t.Cleanup(func() {
		if srv.cmd.ProcessState == nil {
			srv.kill(t)
		}
	})
	base := "http://" + srv.addr
	tr := newTransport(faultWorkers)
	defer tr.CloseIdleConnections()

	load := startLoad(t, tr, base, loadOptions{workers: faultWorkers, transportOK: true})
	for cycle := range 3 {
		load.waitAcks(t, ctx, 150)
		killed := time.Now()
		srv.kill(t)
		load.waitErrors(t, ctx, faultWorkers)
		srv.start(t)
		up := time.Now()
		rec := load.waitRecovered(t, ctx, up)
		t.Logf("cycle %d: process down %v; every session answered again %v after the restart", cycle, up.Sub(killed).Round(time.Millisecond), rec.Round(time.Millisecond))
	}
	load.waitAcks(t, ctx, 100)
	lost := load.verify(t, base, true)
	t.Logf("boltstore process SIGKILL x3: %d acknowledged requests, %s, %d sessions lost an acknowledged write", load.acks(), load.summary(), lost)
}
