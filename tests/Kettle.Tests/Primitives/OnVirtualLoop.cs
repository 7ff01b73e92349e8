namespace Kettle.Tests;

/// <summary>Runs a test body as the main task of a loop on a virtual clock.</summary>
internal static class OnVirtualLoop
{
    public static void Run(Func<Coroutine> main) => Aio.Run(main(), new RunOptions { TimeProvider = new VirtualClock() });

    public static T Run<T>(Func<Coroutine<T>> main) => Aio.Run(main(), new RunOptions { TimeProvider = new VirtualClock() });

    /// <summary>Lets every ready task run <paramref name="n"/> times (asyncio: <c>await asyncio.sleep(0)</c>, n times).</summary>
    public static async Coroutine Yields(int n)
    {
        for (int i = 0; i < n; i++)
        {
            await Aio.Yield();
        }
    }

    /// <summary>Runs <paramref name="action"/> on another thread and returns what it threw.</summary>
    public static Exception? FromOtherThread(Action action)
    {
        Exception? caught = null;
        var t = new Thread(() =>
        {
            try
            {
                action();
            }
            catch (Exception ex)
            {
                caught = ex;
            }
        });
        t.Start();
        t.Join();
        return caught;
    }
}
