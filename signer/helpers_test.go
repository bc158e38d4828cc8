package signer

import (
	"strconv"
	"time"
)

func unix(s int64) time.Time { return time.Unix(s, 0) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
