using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Kettle;

/// <summary>
/// One event loop for several top-level calls. asyncio counterpart: <c>asyncio.Runner</c>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>The loop is made on first use (<see cref="Loop"/> or a Run call) and lives until <see cref="Dispose"/>.</item>
/// <item>Each Run call schedules its main coroutine as a task and runs the loop until that task is done,
/// then returns its result or rethrows its exception. AsyncLocal values set by one call are seen by the next.</item>
/// <item>Ctrl+C during a Run call cancels the main task and lets its cleanup run; if the task then ends
/// cancelled, Run throws <see cref="KeyboardInterruptException"/>. A second Ctrl+C ends the process.</item>
/// <item>Dispose cancels every task still alive, waits for them, reports those that failed, and closes the loop.</item>
/// </list>
/// <para>Threading: use it from one thread, outside any running loop.</para>
/// </remarks>
public sealed class Runner : IDisposable
{
    private readonly RunOptions options;
    private EventLoop? loop;
    private ExecutionContext? context;
    private bool closed;
    private AioTask? mainTask;
    private int interrupts;

    /// <summary>Creates a runner; nothing starts until it is used.</summary>
    public Runner(RunOptions? options = null) => this.options = options ?? RunOptions.Default;

    /// <summary>The runner's loop, made on first use. asyncio counterpart: <c>Runner.get_loop()</c>.</summary>
    public EventLoop Loop
    {
        get
        {
            if (closed)
            {
                throw new InvalidOperationException("Runner is closed.");
            }
            if (loop is null)
            {
                loop = new EventLoop(options);
                context = ExecutionContext.Capture();
            }
            return loop;
        }
    }

    /// <summary>Runs <paramref name="main"/> to completion and returns its result. asyncio counterpart: <c>Runner.run(coro)</c>.</summary>
    public T Run<T>(Coroutine<T> main, string? name = null)
    {
        var l = Prepare();
        var task = l.CreateTask(main, name);
        RunMain(task);
        return task.Result;
    }

    /// <summary>Runs <paramref name="main"/> to completion.</summary>
    public void Run(Coroutine main, string? name = null)
    {
        var l = Prepare();
        var task = l.CreateTask(main, name);
        RunMain(task);
        task.ThrowIfUnsuccessful();
    }

    /// <summary>Runs a plain <c>async Task&lt;T&gt;</c> method as the main task and returns its result.</summary>
    public T Run<T>(Func<Task<T>> main, string? name = null)
    {
        var l = Prepare();
        var task = l.CreateTask(main, name);
        RunMain(task);
        return task.Result;
    }

    /// <summary>Runs a plain <c>async Task</c> method as the main task.</summary>
    public void Run(Func<Task> main, string? name = null)
    {
        var l = Prepare();
        var task = l.CreateTask(main, name);
        RunMain(task);
        task.ThrowIfUnsuccessful();
    }

    private EventLoop Prepare()
    {
        if (EventLoop.RunningOnThisThread is not null)
        {
            throw new InvalidOperationException(
                "Runner.Run (or Aio.Run) cannot be called from a running event loop. Inside a coroutine, await the coroutine instead, " +
                "or schedule it with Aio.CreateTask.");
        }
        return Loop;
    }

    private void RunMain(AioTask task)
    {
        var l = loop!;
        if (context is not null)
        {
            task.context = context;
            if (l.Debug)
            {
                l.MarkDebugOrigin(task);
            }
        }
        mainTask = task;
        interrupts = 0;
        using var sigint = options.HandleCtrlC ? TryRegisterSigint() : null;
        try
        {
            l.RunUntilDone(task);
        }
        finally
        {
            mainTask = null;
        }
        if (task.context is { } c)
        {
            context = c;
        }
        if (interrupts > 0 && task.IsCancelled && task.Uncancel() == 0)
        {
            task.MarkRetrieved();
            throw new KeyboardInterruptException(task.MakeCancelled());
        }
    }

    private PosixSignalRegistration? TryRegisterSigint()
    {
        try
        {
            return PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSigint);
        }
        catch (PlatformNotSupportedException)
        {
            return null;
        }
    }

    private void OnSigint(PosixSignalContext ctx)
    {
        if (Interlocked.Increment(ref interrupts) > 1)
        {
            return; // Second Ctrl+C: let the runtime end the process, as .NET does by default.
        }
        ctx.Cancel = true;
        Interrupt();
    }

    /// <summary>What the first Ctrl+C does: cancel the main task from outside the loop.</summary>
    internal void Interrupt()
    {
        var l = loop;
        var t = mainTask;
        if (l is null || t is null)
        {
            return;
        }
        Interlocked.CompareExchange(ref interrupts, 1, 0);
        l.TryEnqueueThreadsafe(new Handle(l, (Action)(() => t.Cancel()), null));
    }

    /// <summary>Cancels the remaining tasks, waits for them, reports failures and closes the loop.
    /// Idempotent. asyncio counterpart: <c>Runner.close()</c>.</summary>
    public void Dispose()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        var l = loop;
        if (l is null)
        {
            return;
        }
        try
        {
            CancelAllTasks(l);
            l.ShutdownDefaultExecutor();
            // Reports of tasks and coroutines that were dropped unobserved are made by finalizers:
            // let them run now, while the loop can still hand them to its exception handler.
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        finally
        {
            l.Close();
        }
    }

    private static void CancelAllTasks(EventLoop l)
    {
        var tasks = l.AllTasks();
        if (tasks.Count == 0)
        {
            return;
        }
        foreach (var t in tasks)
        {
            t.Cancel();
        }
        l.RunUntil(() => l.LiveTaskCount == 0);
        foreach (var t in tasks)
        {
            if (t.IsFaulted)
            {
                t.MarkRetrieved();
                l.CallExceptionHandler(new LoopExceptionContext("unhandled exception during Kettle shutdown", t.error) { Task = t });
            }
        }
    }
}
