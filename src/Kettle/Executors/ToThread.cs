using System.Runtime.CompilerServices;

namespace Kettle;

public static partial class Aio
{
    /// <summary>
    /// Runs a blocking function on the loop's default executor (a <see cref="ThreadPoolExecutor"/>) and resumes on
    /// the loop with its result. The thread sees the caller's AsyncLocal values. An exception in the function
    /// surfaces at the await. Cancelling the awaiting task stops the waiting at once; the thread itself runs to
    /// the end (threads cannot be stopped safely), as in asyncio. asyncio counterpart: <c>asyncio.to_thread(func)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static AioTask<TResult> ToThread<TResult>(Func<TResult> function) => RunInExecutor(null, function);

    /// <summary>As <see cref="ToThread{TResult}(Func{TResult})"/> with one argument.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static AioTask<TResult> ToThread<T1, TResult>(Func<T1, TResult> function, T1 arg1) => RunInExecutor(null, function, arg1);

    /// <summary>As <see cref="ToThread{TResult}(Func{TResult})"/> with two arguments.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static AioTask<TResult> ToThread<T1, T2, TResult>(Func<T1, T2, TResult> function, T1 arg1, T2 arg2) => RunInExecutor(null, function, arg1, arg2);

    /// <summary>As <see cref="ToThread{TResult}(Func{TResult})"/> for a function without a result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static AioTask ToThread(Action action) => RunInExecutor(null, action);

    /// <summary>
    /// Runs <paramref name="function"/> in <paramref name="executor"/> (null: the loop's default thread pool) and
    /// returns a loop future for its result. Cancelling the future cancels the work if it has not started.
    /// With a process pool executor, the function must be a static method: it is sent, with its
    /// arguments, to a worker process. asyncio counterpart: <c>loop.run_in_executor(executor, func)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static AioTask<TResult> RunInExecutor<TResult>(Executor? executor, Func<TResult> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        var loop = GetRunningLoop();
        var ex = executor ?? loop.DefaultExecutor;
        return ex is ThreadPoolExecutor pool
            ? Submit(pool, new ThreadCall0<TResult>(loop, function))
            : Submit<TResult>(loop, ex, function, [], function);
    }

    /// <summary>As <see cref="RunInExecutor{TResult}(Executor?, Func{TResult})"/> with one argument (asyncio: <c>run_in_executor(executor, func, arg)</c>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static AioTask<TResult> RunInExecutor<T1, TResult>(Executor? executor, Func<T1, TResult> function, T1 arg1)
    {
        ArgumentNullException.ThrowIfNull(function);
        var loop = GetRunningLoop();
        var ex = executor ?? loop.DefaultExecutor;
        return ex is ThreadPoolExecutor pool
            ? Submit(pool, new ThreadCall1<T1, TResult>(loop, function, arg1))
            : SubmitElsewhere(loop, ex, function, arg1);
    }

    /// <summary>As <see cref="RunInExecutor{TResult}(Executor?, Func{TResult})"/> with two arguments.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static AioTask<TResult> RunInExecutor<T1, T2, TResult>(Executor? executor, Func<T1, T2, TResult> function, T1 arg1, T2 arg2)
    {
        ArgumentNullException.ThrowIfNull(function);
        var loop = GetRunningLoop();
        var ex = executor ?? loop.DefaultExecutor;
        return ex is ThreadPoolExecutor pool
            ? Submit(pool, new ThreadCall2<T1, T2, TResult>(loop, function, arg1, arg2))
            : SubmitElsewhere(loop, ex, function, arg1, arg2);
    }

    /// <summary>As <see cref="RunInExecutor{TResult}(Executor?, Func{TResult})"/> with three arguments.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static AioTask<TResult> RunInExecutor<T1, T2, T3, TResult>(Executor? executor, Func<T1, T2, T3, TResult> function, T1 arg1, T2 arg2, T3 arg3)
    {
        ArgumentNullException.ThrowIfNull(function);
        var loop = GetRunningLoop();
        var ex = executor ?? loop.DefaultExecutor;
        return ex is ThreadPoolExecutor pool
            ? Submit(pool, new ThreadCall3<T1, T2, T3, TResult>(loop, function, arg1, arg2, arg3))
            : SubmitElsewhere(loop, ex, function, arg1, arg2, arg3);
    }

    /// <summary>As <see cref="RunInExecutor{TResult}(Executor?, Func{TResult})"/> for an action.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static AioTask RunInExecutor(Executor? executor, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        var loop = GetRunningLoop();
        var ex = executor ?? loop.DefaultExecutor;
        return ex is ThreadPoolExecutor pool
            ? Submit(pool, new ThreadActionCall0(loop, action))
            : SubmitElsewhere(loop, ex, action);
    }

    /// <summary>As <see cref="RunInExecutor(Executor?, Action)"/> with one argument.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static AioTask RunInExecutor<T1>(Executor? executor, Action<T1> action, T1 arg1)
    {
        ArgumentNullException.ThrowIfNull(action);
        var loop = GetRunningLoop();
        var ex = executor ?? loop.DefaultExecutor;
        return ex is ThreadPoolExecutor pool
            ? Submit(pool, new ThreadActionCall1<T1>(loop, action, arg1))
            : SubmitElsewhere(loop, ex, action, arg1);
    }

    // Only an executor that sends the arguments elsewhere (process pool, cluster) reads the argument array; threads call
    // the closure, so for them the array and the boxed arguments are not made.
    private static bool ForProcesses(Executor executor) => executor.SendsArguments;

    // Thread pools: the call object is the queue item and the future (one allocation, no closure). The thread-pool
    // paths are compiled optimized at first call: a burst of calls is over before tiered compilation would replace
    // their unoptimized code (docs/performance.md, "Warm-up"). RunInExecutor is not inlined into its callers: inlined
    // with all it calls, it made the caller's own code slow to compile (12 ms for the benchmark's loop), for a call
    // that costs nothing next to the work of submitting.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ThreadCall<TResult> Submit<TResult>(ThreadPoolExecutor pool, ThreadCall<TResult> call)
    {
        try
        {
            pool.Submit(call);
        }
        catch
        {
            call.Abandon();
            throw;
        }
        return call;
    }

    // Other executors with arguments: the closure the thread-side invoker needs is made here, not in RunInExecutor,
    // where the compiler would allocate it on entry (a lambda capturing parameters), for thread pools too.
    private static Future<TResult> SubmitElsewhere<T1, TResult>(EventLoop loop, Executor ex, Func<T1, TResult> function, T1 arg1) =>
        Submit<TResult>(loop, ex, function, ForProcesses(ex) ? [arg1] : [], () => function(arg1));

    private static Future<TResult> SubmitElsewhere<T1, T2, TResult>(EventLoop loop, Executor ex, Func<T1, T2, TResult> function, T1 arg1, T2 arg2) =>
        Submit<TResult>(loop, ex, function, ForProcesses(ex) ? [arg1, arg2] : [], () => function(arg1, arg2));

    private static Future<TResult> SubmitElsewhere<T1, T2, T3, TResult>(EventLoop loop, Executor ex, Func<T1, T2, T3, TResult> function, T1 arg1, T2 arg2, T3 arg3) =>
        Submit<TResult>(loop, ex, function, ForProcesses(ex) ? [arg1, arg2, arg3] : [], () => function(arg1, arg2, arg3));

    private static Future<VoidResult> SubmitElsewhere(EventLoop loop, Executor ex, Action action) =>
        Submit<VoidResult>(loop, ex, action, [], () =>
        {
            action();
            return default;
        });

    private static Future<VoidResult> SubmitElsewhere<T1>(EventLoop loop, Executor ex, Action<T1> action, T1 arg1) =>
        Submit<VoidResult>(loop, ex, action, ForProcesses(ex) ? [arg1] : [], () =>
        {
            action(arg1);
            return default;
        });

    // Other executors (processes, a cluster): the work describes the call; its outcome completes a loop future.
    private static Future<TResult> Submit<TResult>(EventLoop loop, Executor executor, Delegate function, object?[] arguments, Func<TResult> invoker)
    {
        var work = new LoopWork<TResult>(loop, function, arguments, invoker);
        try
        {
            executor.Submit(work);
        }
        catch
        {
            loop.executorPending--;
            throw;
        }
        return work.Future;
    }
}
