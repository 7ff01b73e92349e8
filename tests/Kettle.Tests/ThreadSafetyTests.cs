namespace Kettle.Tests;

public class ThreadSafetyTests
{
    private static Exception? OnOtherThread(Action action)
    {
        Exception? caught = null;
        var t = new Thread(() => caught = Record.Exception(action)) { Name = "intruder" };
        t.Start();
        t.Join();
        return caught;
    }

    [Fact]
    public void CallSoon_FromOtherThreadWhileRunning_ThrowsNamingBothThreads()
    {
        static async Coroutine<(Exception? Error, int LoopThread)> Main()
        {
            var loop = Aio.GetRunningLoop();
            int loopThread = Environment.CurrentManagedThreadId;
            var error = OnOtherThread(() => loop.CallSoon(() => { }));
            await Aio.Yield();
            return (error, loopThread);
        }

        var (error, loopThread) = Virtual.Run(Main());

        var ex = Assert.IsType<InvalidOperationException>(error);
        Assert.Contains("CallSoon", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"thread {loopThread}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("intruder", ex.Message, StringComparison.Ordinal);
        Assert.Contains("CallSoonThreadsafe", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoopThreadMembers_FromOtherThreadWhileRunning_Throw()
    {
        static async Coroutine<Exception?[]> Main()
        {
            var loop = Aio.GetRunningLoop();
            var sleeper = Aio.CreateTask(Co.Sleep(3600));
            await Aio.Yield();
            var errors = new[]
            {
                OnOtherThread(() => loop.CallLater(1, () => { })),
                OnOtherThread(() => loop.CallAt(1, () => { })),
                OnOtherThread(loop.Stop),
                OnOtherThread(() => sleeper.Cancel()),
            };
            sleeper.Cancel();
            return errors;
        }

        var errors = Virtual.Run(Main());

        Assert.All(errors, e => Assert.IsType<InvalidOperationException>(e));
    }

    [Fact]
    public void CallSoonThreadsafe_FromOtherThreadWhileLoopIdle_WakesLoop()
    {
        var loop = new EventLoop(); // real clock: nothing to do, so the loop blocks until woken
        int ranOn = 0;
        int loopThread = 0;
        HangGuard.Run(() =>
        {
            loop.CallSoon(() =>
            {
                loopThread = Environment.CurrentManagedThreadId;
                new Thread(() => loop.CallSoonThreadsafe(() =>
                {
                    ranOn = Environment.CurrentManagedThreadId;
                    loop.Stop();
                })).Start();
            });
            loop.RunForever();
            loop.Close();
        });

        Assert.NotEqual(0, loopThread);
        Assert.Equal(loopThread, ranOn);
    }

    [Fact]
    public void RunCoroutineThreadsafe_FromOtherThread_RunsOnLoopAndReturnsResult()
    {
        static async Coroutine<string> Work(int n)
        {
            await Aio.Yield();
            return $"{n}:{Environment.CurrentManagedThreadId}:{Aio.CurrentTask?.Name is not null}";
        }

        static async Coroutine<(string FromThread, int LoopThread)> Main()
        {
            var loop = Aio.GetRunningLoop();
            var tcs = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            new Thread(() =>
            {
                try
                {
                    var t = loop.RunCoroutineThreadsafe(Work(7));
                    tcs.SetResult(t.GetAwaiter().GetResult());
                }
                catch (Exception ex)
                {
                    tcs.SetException(ex);
                }
            }).Start();
            // A foreign await: the loop waits in real time for the thread instead of jumping virtual time.
            var fromThread = await tcs.Task;
            return (fromThread, Environment.CurrentManagedThreadId);
        }

        (string fromThread, int loopThread) = (string.Empty, 0);
        HangGuard.Run(() => (fromThread, loopThread) = Virtual.Run(Main()));

        Assert.Equal($"7:{loopThread}:True", fromThread);
    }

    [Fact]
    public void RunCoroutineThreadsafe_CoroutineFails_TaskFaultsWithOriginalException()
    {
        static async Coroutine<int> Fail()
        {
            await Aio.Yield();
            throw new TestException("remote failure");
        }

        static async Coroutine<Exception?> Main()
        {
            var loop = Aio.GetRunningLoop();
            var tcs = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
            new Thread(() =>
            {
                var t = loop.RunCoroutineThreadsafe(Fail());
                tcs.SetResult(Record.Exception(() => t.GetAwaiter().GetResult()));
            }).Start();
            return await tcs.Task;
        }

        Exception? error = null;
        HangGuard.Run(() => error = Virtual.Run(Main()));

        Assert.IsType<TestException>(error);
    }

    [Fact]
    public void CallSoonThreadsafe_ManyThreads_EveryCallbackRunsOnce()
    {
        const int Threads = 4;
        const int PerThread = 1000;
        var loop = new EventLoop();
        int count = 0;
        HangGuard.Run(() =>
        {
            loop.CallSoon(() =>
            {
                for (int t = 0; t < Threads; t++)
                {
                    new Thread(() =>
                    {
                        for (int i = 0; i < PerThread; i++)
                        {
                            loop.CallSoonThreadsafe(() =>
                            {
                                if (++count == Threads * PerThread)
                                {
                                    loop.Stop();
                                }
                            });
                        }
                    }).Start();
                }
            });
            loop.RunForever();
            loop.Close();
        });

        Assert.Equal(Threads * PerThread, count);
    }
}
