"""Lock hand-off on asyncio, for comparison with `bench/kettle.sh lock N`: two tasks take turns on one
asyncio.Lock, each holding it across a sleep(0); N acquisitions in all. Prints one JSON line (peer "asyncio")."""
import asyncio, json, resource, sys, time


async def take_turns(lock, times):
    for _ in range(times):
        async with lock:
            await asyncio.sleep(0)


async def main(n):
    lock = asyncio.Lock()
    t0 = time.perf_counter()
    await asyncio.gather(take_turns(lock, n // 2), take_turns(lock, n // 2))
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peer": "asyncio", "workload": "lock", "n": n, "seconds": round(dt, 6),
                      "ops_per_s": round(n / dt, 1), "peak_rss_mb": round(rss, 1)}))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
