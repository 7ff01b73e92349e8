using Microsoft.Extensions.Logging;

namespace Kettle;

/// <summary>The loop's default executor.</summary>
public sealed partial class EventLoop
{
    private Executor? defaultExecutor;
    private bool defaultExecutorShutdown;

    /// <summary>
    /// The executor used when none is given (to_thread, run_in_executor with null): a <see cref="ThreadPoolExecutor"/>
    /// made on first use. asyncio counterpart: the loop's default executor.
    /// </summary>
    /// <exception cref="InvalidOperationException">The default executor was shut down.</exception>
    public Executor DefaultExecutor
    {
        get
        {
            if (defaultExecutorShutdown)
            {
                throw new InvalidOperationException("Executor shutdown has been called: the loop's default executor is gone.");
            }
            return defaultExecutor ??= new ThreadPoolExecutor(threadNamePrefix: "kettle");
        }
    }

    /// <summary>Replaces the default executor. asyncio counterpart: <c>loop.set_default_executor</c>.</summary>
    public void SetDefaultExecutor(Executor executor)
    {
        ArgumentNullException.ThrowIfNull(executor);
        defaultExecutor = executor;
    }

    /// <summary>
    /// Shuts the default executor down, waiting for running work (at most <paramref name="timeout"/>, default
    /// 300 s, as asyncio). <see cref="Runner"/> calls it when it closes. asyncio counterpart:
    /// <c>loop.shutdown_default_executor(timeout)</c>.
    /// </summary>
    /// <returns>False if the threads did not finish in time (they are left to end on their own).</returns>
    public bool ShutdownDefaultExecutor(TimeSpan? timeout = null)
    {
        defaultExecutorShutdown = true;
        var ex = defaultExecutor;
        defaultExecutor = null;
        if (ex is null)
        {
            return true;
        }
        var done = Task.Run(() => ex.Shutdown(wait: true));
        if (done.Wait(timeout ?? TimeSpan.FromSeconds(300)))
        {
            return true;
        }
        logger.LogWarning("The default executor did not finish joining its threads within {Seconds} seconds.", (timeout ?? TimeSpan.FromSeconds(300)).TotalSeconds);
        return false;
    }
}
