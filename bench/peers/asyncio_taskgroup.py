"""TaskGroup fan-out on asyncio, for comparison with `bench/kettle.sh taskgroup N`: N children in groups of 1,000
(one `async with asyncio.TaskGroup()` at a time); each child yields once (sleep(0)) and returns its index.
Prints one JSON line (peer "asyncio")."""
import asyncio, json, resource, sys, time

GROUP = 1000


async def one(i):
    await asyncio.sleep(0)
    return i


async def main(n):
    t0 = time.perf_counter()
    done = 0
    while done < n:
        size = min(GROUP, n - done)
        async with asyncio.TaskGroup() as tg:
            for i in range(size):
                tg.create_task(one(i))
        done += size
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peer": "asyncio", "workload": "taskgroup", "n": done, "seconds": round(dt, 6),
                      "ops_per_s": round(done / dt, 1), "peak_rss_mb": round(rss, 1), "group_size": GROUP}))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
