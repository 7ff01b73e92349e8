using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace Kettle;

/// <summary>
/// Kettle's entry points: run a program, make tasks, sleep, find the current task.
/// asyncio counterpart: the functions of the <c>asyncio</c> module.
/// </summary>
/// <remarks>Threading: everything here belongs to the loop thread, except <see cref="Run{T}(Coroutine{T}, RunOptions?)"/>
/// and its overloads, which start a loop on the calling thread.</remarks>
public static partial class Aio
{
    /// <summary>Where reports go when a loop was given no logger factory. Null: standard error.</summary>
    public static ILoggerFactory? DefaultLoggerFactory { get; set; }

    /// <summary>
    /// Runs <paramref name="main"/> on a new event loop and returns its result. When it returns, every task
    /// still alive is cancelled and awaited and the loop is closed. asyncio counterpart: <c>asyncio.run(main)</c>.
    /// Called while a loop runs on this thread, it throws <see cref="InvalidOperationException"/>.
    /// Ctrl+C cancels the main task; after its cleanup the process ends with exit code 130.
    /// </summary>
    public static T Run<T>(Coroutine<T> main, RunOptions? options = null) => RunTop(r => r.Run(main), options);

    /// <summary>Runs <paramref name="main"/> on a new event loop; see <see cref="Run{T}(Coroutine{T}, RunOptions?)"/>.</summary>
    public static void Run(Coroutine main, RunOptions? options = null) => RunTop(r => { r.Run(main); return 0; }, options);

    /// <summary>Runs a plain <c>async Task&lt;T&gt;</c> method as the main task on a new event loop.</summary>
    public static T Run<T>(Func<Task<T>> main, RunOptions? options = null) => RunTop(r => r.Run(main), options);

    /// <summary>Runs a plain <c>async Task</c> method as the main task on a new event loop.</summary>
    public static void Run(Func<Task> main, RunOptions? options = null) => RunTop(r => { r.Run(main); return 0; }, options);

    private static T RunTop<T>(Func<Runner, T> body, RunOptions? options)
    {
        if (EventLoop.RunningOnThisThread is not null)
        {
            throw new InvalidOperationException(
                "Aio.Run cannot be called from a running event loop. Inside a coroutine, await the coroutine instead, " +
                "or schedule it with Aio.CreateTask.");
        }
        try
        {
            using var runner = new Runner(options);
            return body(runner);
        }
        catch (KeyboardInterruptException)
        {
            // The main task's cleanup has run and the runner is closed: end as .NET ends on SIGINT.
            Environment.Exit(130);
            throw;
        }
    }

    /// <summary>The loop running on this thread. asyncio counterpart: <c>asyncio.get_running_loop()</c>.</summary>
    /// <exception cref="InvalidOperationException">No loop runs on this thread.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static EventLoop GetRunningLoop() =>
        EventLoop.RunningOnThisThread ?? throw new InvalidOperationException("There is no running Kettle event loop on this thread; start one with Aio.Run.");

    /// <summary>The task whose step is running, or null between steps. asyncio counterpart: <c>asyncio.current_task()</c>.</summary>
    /// <exception cref="InvalidOperationException">No loop runs on this thread.</exception>
    public static AioTask? CurrentTask => GetRunningLoop().currentTask;

    /// <summary>The running loop's unfinished tasks. asyncio counterpart: <c>asyncio.all_tasks()</c>.</summary>
    public static IReadOnlyList<AioTask> AllTasks() => GetRunningLoop().AllTasks();

    /// <summary>Schedules <paramref name="coroutine"/> as a task on the running loop; its first step is queued, not run.
    /// asyncio counterpart: <c>asyncio.create_task(coro, name=...)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static AioTask<T> CreateTask<T>(Coroutine<T> coroutine, string? name = null) => GetRunningLoop().CreateTask(coroutine, name);

    /// <summary>Schedules <paramref name="coroutine"/> as a task on the running loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static AioTask CreateTask(Coroutine coroutine, string? name = null) => GetRunningLoop().CreateTask(coroutine, name);

    /// <summary>Runs a plain <c>async Task&lt;T&gt;</c> method as a task on the running loop.</summary>
    public static AioTask<T> CreateTask<T>(Func<Task<T>> function, string? name = null) => GetRunningLoop().CreateTask(function, name);

    /// <summary>Runs a plain <c>async Task&lt;T&gt;</c> method as a task, passing it the task's cancellation token.</summary>
    public static AioTask<T> CreateTask<T>(Func<CancellationToken, Task<T>> function, string? name = null) => GetRunningLoop().CreateTask(function, name);

    /// <summary>Runs a plain <c>async Task</c> method as a task on the running loop.</summary>
    public static AioTask CreateTask(Func<Task> function, string? name = null) => GetRunningLoop().CreateTask(function, name);

    /// <summary>Runs a plain <c>async Task</c> method as a task, passing it the task's cancellation token.</summary>
    public static AioTask CreateTask(Func<CancellationToken, Task> function, string? name = null) => GetRunningLoop().CreateTask(function, name);

    /// <summary>Suspends the current task for <paramref name="seconds"/> on the loop's clock; zero or less
    /// yields once. A cancellation point. asyncio counterpart: <c>asyncio.sleep(delay)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static SleepAwaitable Sleep(double seconds) => new(EventLoop.SecondsToTicks(seconds));

    /// <summary>Suspends the current task for <paramref name="delay"/>; see <see cref="Sleep(double)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static SleepAwaitable Sleep(TimeSpan delay) => new(delay.Ticks);

    /// <summary>Sleeps, then gives back <paramref name="result"/>. asyncio counterpart: <c>asyncio.sleep(delay, result)</c>.</summary>
    public static SleepAwaitable<T> Sleep<T>(double seconds, T result) => new(EventLoop.SecondsToTicks(seconds), result);

    /// <summary>Sleeps, then gives back <paramref name="result"/>.</summary>
    public static SleepAwaitable<T> Sleep<T>(TimeSpan delay, T result) => new(delay.Ticks, result);

    /// <summary>Lets every other ready task run once, then resumes. A cancellation point.
    /// asyncio counterpart: <c>asyncio.sleep(0)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static SleepAwaitable Yield() => new(0);
}
