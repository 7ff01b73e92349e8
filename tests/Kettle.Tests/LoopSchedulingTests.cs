namespace Kettle.Tests;

public class LoopSchedulingTests
{
    [Fact]
    public void CallSoon_SeveralCallbacks_RunInFifoOrder()
    {
        using var loop = Virtual.NewLoop();
        var log = new List<int>();
        for (int i = 0; i < 5; i++)
        {
            int n = i;
            loop.CallSoon(() => log.Add(n));
        }
        loop.CallSoon(loop.Stop);

        loop.RunForever();

        Assert.Equal([0, 1, 2, 3, 4], log);
    }

    [Fact]
    public void CallSoon_ScheduledDuringBatch_RunsInNextBatch()
    {
        using var loop = Virtual.NewLoop();
        var log = new List<string>();
        bool done = false;
        void Spin()
        {
            if (done)
            {
                return;
            }
            log.Add("spin");
            loop.CallSoon(Spin);
        }
        loop.CallSoon(Spin);
        loop.CallSoon(() =>
        {
            log.Add("X");
            loop.CallSoon(() =>
            {
                log.Add("Y");
                loop.CallSoon(() =>
                {
                    log.Add("Z");
                    done = true;
                    loop.Stop();
                });
            });
        });

        loop.RunForever();

        // A self-rescheduling callback gets one turn per iteration and never starves the others.
        Assert.Equal(["spin", "X", "spin", "Y", "spin", "Z"], log);
    }

    [Fact]
    public void CallSoon_FromTask_RunsBeforeTaskResumesFromYield()
    {
        var log = new List<string>();
        static async Coroutine Main(List<string> log)
        {
            var loop = Aio.GetRunningLoop();
            loop.CallSoon(() => log.Add("a"));
            loop.CallSoon(() => log.Add("b"));
            await Aio.Yield();
            log.Add("task");
        }

        Virtual.Run(Main(log));

        Assert.Equal(["a", "b", "task"], log);
    }

    [Fact]
    public void CallSoon_WithState_PassesState()
    {
        using var loop = Virtual.NewLoop();
        object? seen = null;
        var state = new object();
        loop.CallSoon(s => seen = s, state);
        loop.CallSoon(loop.Stop);

        loop.RunForever();

        Assert.Same(state, seen);
    }

    [Fact]
    public void HandleCancel_BeforeItRuns_CallbackDoesNotRun()
    {
        using var loop = Virtual.NewLoop();
        bool ran = false;
        var h = loop.CallSoon(() => ran = true);
        h.Cancel();
        h.Cancel();
        loop.CallSoon(loop.Stop);

        loop.RunForever();

        Assert.True(h.Cancelled);
        Assert.False(ran);
    }

    [Fact]
    public void HandleCancel_FromEarlierCallbackInSameBatch_CallbackDoesNotRun()
    {
        using var loop = Virtual.NewLoop();
        bool ran = false;
        Handle? later = null;
        loop.CallSoon(() => later!.Cancel());
        later = loop.CallSoon(() => ran = true);
        loop.CallSoon(loop.Stop);

        loop.RunForever();

        Assert.False(ran);
    }

    [Fact]
    public void Callback_Throws_ReportedToExceptionHandlerAndLoopGoesOn()
    {
        using var loop = Virtual.NewLoop();
        var reports = new ReportCollector();
        loop.SetExceptionHandler(reports.Handle);
        var boom = new TestException("boom");
        bool after = false;
        var h = loop.CallSoon(() => throw boom);
        loop.CallSoon(() => after = true);
        loop.CallSoon(loop.Stop);

        loop.RunForever();

        Assert.True(after);
        var report = Assert.Single(reports.Items);
        Assert.Same(boom, report.Exception);
        Assert.Same(h, report.Handle);
        Assert.StartsWith("Exception in callback", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExceptionHandler_Throws_LoopGoesOn()
    {
        using var loop = Virtual.NewLoop();
        loop.SetExceptionHandler((_, _) => throw new TestException("handler failed"));
        bool after = false;
        loop.CallSoon(() => throw new TestException("boom"));
        loop.CallSoon(() => after = true);
        loop.CallSoon(loop.Stop);

        loop.RunForever();

        Assert.True(after);
    }

    [Fact]
    public void Stop_ThenRunForeverAgain_RunsRemainingCallbacks()
    {
        using var loop = Virtual.NewLoop();
        var log = new List<string>();
        loop.CallSoon(() =>
        {
            log.Add("first");
            loop.Stop();
            loop.CallSoon(() =>
            {
                log.Add("second");
                loop.Stop();
            });
        });

        loop.RunForever();
        Assert.Equal(["first"], log);
        Assert.False(loop.IsRunning);

        loop.RunForever();
        Assert.Equal(["first", "second"], log);
    }

    [Fact]
    public void RunForever_WhileRunning_Throws()
    {
        using var loop = Virtual.NewLoop();
        Exception? error = null;
        loop.CallSoon(() =>
        {
            error = Record.Exception(loop.RunForever);
            loop.Stop();
        });

        loop.RunForever();

        Assert.IsType<InvalidOperationException>(error);
    }

    [Fact]
    public void Close_WhileRunning_Throws()
    {
        using var loop = Virtual.NewLoop();
        Exception? error = null;
        loop.CallSoon(() =>
        {
            error = Record.Exception(loop.Close);
            loop.Stop();
        });

        loop.RunForever();

        Assert.IsType<InvalidOperationException>(error);
        Assert.False(loop.IsClosed);
    }

    [Fact]
    public void Close_Twice_IsIdempotentAndLoopRefusesWork()
    {
        var loop = Virtual.NewLoop();
        loop.Close();
        loop.Close();

        Assert.True(loop.IsClosed);
        Assert.Throws<InvalidOperationException>(() => loop.CallSoonThreadsafe(() => { }));
        Assert.Throws<InvalidOperationException>(() => loop.CallSoon(() => { }));
        Assert.Throws<InvalidOperationException>(loop.RunForever);
    }

    [Fact]
    public void RunningLoop_OutsideLoop_GetRunningLoopThrows()
    {
        Assert.Throws<InvalidOperationException>(Aio.GetRunningLoop);
        Assert.Throws<InvalidOperationException>(() => Aio.CurrentTask);
    }

    [Fact]
    public void RunningLoop_InsideCallback_IsThisLoop()
    {
        using var loop = Virtual.NewLoop();
        EventLoop? seen = null;
        bool running = false;
        loop.CallSoon(() =>
        {
            seen = Aio.GetRunningLoop();
            running = loop.IsRunning;
            loop.Stop();
        });

        loop.RunForever();

        Assert.Same(loop, seen);
        Assert.True(running);
    }
}
