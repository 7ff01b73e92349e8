namespace Kettle.Tests;

/// <summary>Runs programs on a loop with virtual time, so tests never wait on the wall clock.</summary>
internal static class Virtual
{
    /// <summary>Options for a test loop: virtual time, and no Ctrl+C handler (tests simulate it with Runner.Interrupt).</summary>
    public static RunOptions Options() => new() { TimeProvider = new VirtualClock(), HandleCtrlC = false };

    public static T Run<T>(Coroutine<T> main) => Aio.Run(main, Options());

    public static T Run<T>(Coroutine<T> main, string name)
    {
        using var runner = new Runner(Options());
        return runner.Run(main, name);
    }

    public static void Run(Coroutine main) => Aio.Run(main, Options());

    /// <summary>A loop made directly (not through Aio.Run), for tests of the loop itself.</summary>
    public static EventLoop NewLoop() => new(Options());
}

/// <summary>Collects what reaches a loop's exception handler. Reports made by finalizers arrive on the
/// finalizer thread, hence the lock.</summary>
internal sealed class ReportCollector
{
    private readonly List<LoopExceptionContext> items = new();

    public void Handle(EventLoop loop, LoopExceptionContext context)
    {
        lock (items)
        {
            items.Add(context);
        }
    }

    public IReadOnlyList<LoopExceptionContext> Items
    {
        get
        {
            lock (items)
            {
                return items.ToArray();
            }
        }
    }

    public IReadOnlyList<LoopExceptionContext> Matching(string fragment) =>
        Items.Where(c => c.Message.Contains(fragment, StringComparison.Ordinal)).ToArray();
}

/// <summary>Runs code on a dedicated thread and fails instead of hanging the suite if it never ends
/// (a guard against a lost wake-up, not a timing assertion).</summary>
internal static class HangGuard
{
    public static void Run(Action action, int maxStackSize = 0)
    {
        Exception? error = null;
        var thread = new Thread(
            () =>
            {
                try
                {
                    action();
                }
                catch (Exception ex)
                {
                    error = ex;
                }
            },
            maxStackSize)
        {
            IsBackground = true,
            Name = "kettle-test-loop",
        };
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(60)), "The loop did not finish: a wake-up was lost.");
        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }
}

/// <summary>An exception type of the tests' own, to check that the original type travels.</summary>
internal sealed class TestException : Exception
{
    public TestException()
    {
    }

    public TestException(string message)
        : base(message)
    {
    }

    public TestException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>Small coroutines shared by the tests.</summary>
internal static class Co
{
    public static async Coroutine Sleep(double seconds) => await Aio.Sleep(seconds);

    public static async Coroutine<T> Return<T>(T value, double afterSeconds = 0)
    {
        await Aio.Sleep(afterSeconds);
        return value;
    }

    public static async Coroutine Throw(Exception error, double afterSeconds = 0)
    {
        await Aio.Sleep(afterSeconds);
        throw error;
    }
}
