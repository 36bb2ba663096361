package activation

const childEnv = "LOGISTOS_BACKFILL_BENCH_CHILD"

func benchChild() int { return 0 }
