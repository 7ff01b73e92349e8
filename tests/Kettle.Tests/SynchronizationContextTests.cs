namespace Kettle.Tests;

public class SynchronizationContextTests
{
    private static void RunGuarded(Func<Coroutine<int[]>> main, out int[] threads)
    {
        int[] result = [];
        HangGuard.Run(() => result = Virtual.Run(main()));
        threads = result;
    }

    [Fact]
    public void ForeignAwaits_InsideCoroutine_ResumeOnLoopThread()
    {
        static async Coroutine<int[]> Main()
        {
            var ids = new List<int> { Environment.CurrentManagedThreadId };
            await Task.Delay(1);
            ids.Add(Environment.CurrentManagedThreadId);
            await Task.Run(() => Thread.Yield());
            ids.Add(Environment.CurrentManagedThreadId);
            await Task.Yield();
            ids.Add(Environment.CurrentManagedThreadId);
            await Task.Run(() => 1).ConfigureAwait(false);
            ids.Add(Environment.CurrentManagedThreadId);
            await Task.Delay(1).ConfigureAwait(false);
            ids.Add(Environment.CurrentManagedThreadId);
            return ids.ToArray();
        }

        RunGuarded(Main, out var ids);

        Assert.Equal(6, ids.Length);
        Assert.All(ids, id => Assert.Equal(ids[0], id));
    }

    [Fact]
    public void ForeignAwait_InsideTask_CurrentTaskUnchangedAfterResume()
    {
        static async Coroutine<int[]> Main()
        {
            var me = Aio.CurrentTask;
            await Task.Run(() => Thread.Yield()).ConfigureAwait(false);
            var after1 = Aio.CurrentTask;
            await Task.Delay(1);
            var after2 = Aio.CurrentTask;
            return [ReferenceEquals(me, after1) ? 1 : 0, ReferenceEquals(me, after2) ? 1 : 0];
        }

        RunGuarded(Main, out var same);

        Assert.Equal([1, 1], same);
    }

    [Fact]
    public void PlainAsyncTask_CreatedAsTask_ResumesOnLoopThread()
    {
        static async Task<int[]> Plain()
        {
            int first = Environment.CurrentManagedThreadId;
            await Task.Run(() => Thread.Yield());
            int second = Environment.CurrentManagedThreadId;
            await Aio.Sleep(1);
            return [first, second, Environment.CurrentManagedThreadId];
        }

        static async Coroutine<int[]> Main()
        {
            var ids = await Aio.CreateTask(Plain);
            return [Environment.CurrentManagedThreadId, .. ids];
        }

        RunGuarded(Main, out var ids);

        Assert.All(ids, id => Assert.Equal(ids[0], id));
    }

    [Fact]
    public void SynchronizationContext_InsideLoop_IsLoopsAndRestoredAfterRun()
    {
        var before = SynchronizationContext.Current;
        SynchronizationContext? inside = null;
        SynchronizationContext? loops = null;
        async Coroutine Main()
        {
            await Aio.Yield();
            inside = SynchronizationContext.Current;
            loops = Aio.GetRunningLoop().SynchronizationContext;
        }

        Virtual.Run(Main());

        Assert.NotNull(inside);
        Assert.Same(loops, inside);
        Assert.Same(before, SynchronizationContext.Current);
    }

    [Fact]
    public void TaskScheduler_StartNew_RunsOnLoopThread()
    {
        static async Coroutine<int[]> Main()
        {
            var loop = Aio.GetRunningLoop();
            int fromLoop = await Task.Factory.StartNew(
                () => Environment.CurrentManagedThreadId, CancellationToken.None, TaskCreationOptions.None, loop.TaskScheduler);
            // Queued from a pool thread, it still runs on the loop.
            int fromPool = await Task.Run(() => Task.Factory.StartNew(
                () => Environment.CurrentManagedThreadId, CancellationToken.None, TaskCreationOptions.None, loop.TaskScheduler));
            return [Environment.CurrentManagedThreadId, fromLoop, fromPool];
        }

        RunGuarded(Main, out var ids);

        Assert.All(ids, id => Assert.Equal(ids[0], id));
    }

    [Fact]
    public void SynchronizationContextSend_FromOtherThread_Throws()
    {
        static async Coroutine<int[]> Main()
        {
            var ctx = Aio.GetRunningLoop().SynchronizationContext;
            bool ranInline = false;
            ctx.Send(_ => ranInline = true, null);
            var error = await Task.Run(() => Record.Exception(() => ctx.Send(_ => { }, null)));
            return [ranInline ? 1 : 0, error is InvalidOperationException ? 1 : 0];
        }

        RunGuarded(Main, out var flags);

        Assert.Equal([1, 1], flags);
    }
}
