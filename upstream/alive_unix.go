//go:build unix

package upstream

import (
	"net"
	"syscall"
)

// alive reports whether an idle connection is still open: a receiver that
// closed it, or sent anything unasked (such as a TLS close_notify), would
// otherwise be found out only after the next request was written to it.
// One non-blocking peek at the socket; no bytes are consumed.
func alive(nc net.Conn) bool {
	if u, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc = u.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	live := false
	err = rc.Read(func(fd uintptr) bool {
		// Nothing to read is the only healthy answer: 0 bytes is EOF.
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		live = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && live
}
