package shard_test

import (
	"fmt"

	"github.com/cxload/cxload/harness/shard"
)

// Shards split a run over machines: each owns every n-th agent and its part
// of every budget; the parts add up to the whole.
func ExampleShard() {
	for i := 1; i <= 3; i++ {
		sh, err := shard.Parse(fmt.Sprintf("%d/3", i))
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%v: agents %v, budget %d of 301\n", sh, sh.Agents(8), sh.Split(301))
	}
	_, err := shard.Parse("4/3")
	fmt.Println(err)
	// Output:
	// 1/3: agents [0 3 6], budget 101 of 301
	// 2/3: agents [1 4 7], budget 100 of 301
	// 3/3: agents [2 5], budget 100 of 301
	// shard "4/3": index 4 out of range: want "i/n" with 1 ≤ i ≤ n (here 1 ≤ i ≤ 3)
}
