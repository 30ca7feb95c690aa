// openb-order writes the random draws the ATC'23 artifact
// (hkust-adsl/kubernetes-scheduler-simulator) makes for one openb pod list and
// seed, for bench_packing --order. Only Go's math/rand gives the same numbers,
// hence Go. What the artifact does with its global source, in this order
// (pkg/simulator/core.go Simulate, simulator.go):
//
//	rand.Seed(seed); rand.Int()               (the Debugf argument)
//	sort the pods by name; rand.Shuffle       (SortClusterPods, --shuffle-pod)
//	tune to ratio x the GPU capacity:         (TunePodsByNodeTotalResource)
//	  below it: append copies of pods[rand.Intn(n)] of the name-sorted list
//	            while the total plus the pod's per-device milli stays within;
//	  above it: remove order[rand.Intn(len)] while the total is above;
//	sort the nodes by name; rand.Perm         (syncClusterResourceList renames
//	                                           node i "%04d-" perm[i] + name)
//
// Output, two lines: the arriving pods as indices into the pod list sorted by
// name; then each name-sorted node's rank.
//
// usage: openb-order POD_LIST.csv NODE_LIST.csv SEED [RATIO]
package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
)

func readCSV(path string) ([]string, [][]string) {
	f, err := os.Open(path)
	if err != nil {
		fail(err.Error())
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		fail(fmt.Sprintf("%s: not a CSV with a header", path))
	}
	return rows[0], rows[1:]
}

func column(path string, header []string, name string) int {
	for i, c := range header {
		if strings.TrimSpace(c) == name {
			return i
		}
	}
	fail(fmt.Sprintf("%s: header has no column '%s'", path, name))
	return -1
}

func number(path string, row []string, i int) int64 {
	if i >= len(row) {
		fail(fmt.Sprintf("%s: a row has no column %d", path, i+1))
	}
	v, err := strconv.ParseInt(strings.TrimSpace(row[i]), 10, 64)
	if err != nil {
		fail(fmt.Sprintf("%s: '%s' is not a number", path, row[i]))
	}
	return v
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "openb-order: "+msg)
	os.Exit(1)
}

type pod struct {
	name       string
	num, milli int64
}

func main() {
	if len(os.Args) < 4 || len(os.Args) > 5 {
		fail("usage: openb-order POD_LIST.csv NODE_LIST.csv SEED [RATIO]")
	}
	podPath, nodePath := os.Args[1], os.Args[2]
	seed, err := strconv.ParseInt(os.Args[3], 10, 64)
	if err != nil {
		fail(fmt.Sprintf("seed '%s' is not a number", os.Args[3]))
	}
	ratio := 1.3
	if len(os.Args) == 5 {
		if ratio, err = strconv.ParseFloat(os.Args[4], 64); err != nil || ratio <= 0 {
			fail(fmt.Sprintf("ratio '%s' is not a positive number", os.Args[4]))
		}
	}

	header, rows := readCSV(podPath)
	cName := column(podPath, header, "name")
	cNum := column(podPath, header, "num_gpu")
	cMilli := column(podPath, header, "gpu_milli")
	pods := make([]pod, len(rows))
	var total int64
	for i, r := range rows {
		if cName >= len(r) {
			fail(fmt.Sprintf("%s: row %d has no name", podPath, i+2))
		}
		pods[i] = pod{r[cName], number(podPath, r, cNum), number(podPath, r, cMilli)}
		total += pods[i].num * pods[i].milli
	}
	if len(pods) == 0 {
		fail(podPath + ": no pods")
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].name < pods[j].name })

	nheader, nrows := readCSV(nodePath)
	cGpu := column(nodePath, nheader, "gpu")
	var capacity int64
	for _, r := range nrows {
		capacity += number(nodePath, r, cGpu) * 1000
	}
	target := ratio * float64(capacity)

	rand.Seed(seed)
	_ = rand.Int()
	order := make([]int, len(pods))
	for i := range order {
		order[i] = i
	}
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	if float64(total) > target {
		for float64(total) > target && len(order) > 0 {
			i := rand.Intn(len(order))
			total -= pods[order[i]].num * pods[order[i]].milli
			order = append(order[:i], order[i+1:]...)
		}
	} else if float64(total) < target {
		for {
			k := rand.Intn(len(pods))
			if float64(total+pods[k].milli) > target {
				break
			}
			total += pods[k].num * pods[k].milli
			order = append(order, k)
		}
	}
	rank := rand.Perm(len(nrows))

	w := bufio.NewWriter(os.Stdout)
	for i, k := range order {
		if i > 0 {
			w.WriteByte(' ')
		}
		w.WriteString(strconv.Itoa(k))
	}
	w.WriteByte('\n')
	for i, k := range rank {
		if i > 0 {
			w.WriteByte(' ')
		}
		w.WriteString(strconv.Itoa(k))
	}
	w.WriteByte('\n')
	if err := w.Flush(); err != nil {
		fail(err.Error())
	}
}
