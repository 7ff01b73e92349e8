"""Process-pool round trip on asyncio, for comparison with `bench/kettle.sh process_pool N`: N trivial calls
f(i) = i + 1 through loop.run_in_executor with a ProcessPoolExecutor of 2 workers (started before timing),
all in flight together; then the latency of one call at a time. Prints one JSON line (peer "asyncio")."""
import asyncio, concurrent.futures, json, resource, sys, time


def trivial(i):
    return i + 1


async def main(n):
    loop = asyncio.get_running_loop()
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
        await asyncio.gather(loop.run_in_executor(pool, trivial, 0), loop.run_in_executor(pool, trivial, 1))
        t0 = time.perf_counter()
        res = await asyncio.gather(*(loop.run_in_executor(pool, trivial, i) for i in range(n)))
        total = time.perf_counter() - t0
        assert res[-1] == n
        seq = min(n, 200)
        t0 = time.perf_counter()
        for i in range(seq):
            await loop.run_in_executor(pool, trivial, i)
        latency = (time.perf_counter() - t0) / seq
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peer": "asyncio", "workload": "process_pool", "n": n, "seconds": round(total, 6),
                      "ops_per_s": round(n / total, 1), "peak_rss_mb": round(rss, 1),
                      "round_trip_latency_us": round(latency * 1e6, 1)}))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
