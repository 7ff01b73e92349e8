using static Kettle.Tests.OnVirtualLoop;

namespace Kettle.Tests;

public class FastPathAllocationTests
{
    private static async Coroutine<long> Measure(Func<Coroutine> body)
    {
        await body(); // warm up
        await body();
        long before = GC.GetAllocatedBytesForCurrentThread();
        await body();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void FastPaths_LockEventSemaphoreQueue_AllocateNothingPerOperation() => Run(async () =>
    {
        var l = new AioLock();
        var e = new AioEvent();
        e.Set();
        var s = new AioSemaphore(1);
        var q = new AioQueue<int>(4);
        async Coroutine Body()
        {
            for (int i = 0; i < 1000; i++)
            {
                using (await l.Acquire())
                {
                }
                await e.Wait();
                using (await s.Acquire())
                {
                }
                await q.Put(i);
                _ = await q.Get();
                q.TaskDone();
                await q.Join();
            }
        }
        // Only the Body coroutine itself is allocated (one box), whatever the number of operations.
        long bytes = await Measure(Body);
        Assert.True(bytes < 1000, $"{bytes} bytes allocated for 1000 rounds of fast-path operations.");
    });
}
