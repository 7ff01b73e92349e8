using Microsoft.Extensions.Logging;

namespace Kettle;

/// <summary>
/// Options for <see cref="Aio.Run{T}(Coroutine{T}, RunOptions?)"/>, <see cref="Runner"/> and
/// <see cref="EventLoop"/>. asyncio counterpart: the keyword arguments of <c>asyncio.run</c> / <c>Runner</c>.
/// </summary>
/// <remarks>Threading: set before use; not changed afterwards.</remarks>
public sealed class RunOptions
{
    internal static readonly RunOptions Default = new();

    /// <summary>Debug mode; null takes the KETTLE_DEBUG environment variable (asyncio: <c>debug=None</c>).</summary>
    public bool? Debug { get; init; }

    /// <summary>The loop's clock. Pass a <see cref="VirtualClock"/> for virtual time. Default: the system clock.</summary>
    public TimeProvider? TimeProvider { get; init; }

    /// <summary>Where reports go. Default: <see cref="Aio.DefaultLoggerFactory"/>, else standard error.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>In debug mode, steps that hold the loop this long are logged. Default 100 ms.</summary>
    public TimeSpan SlowCallbackDuration { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Whether Ctrl+C cancels the main task (asyncio's SIGINT handling). Default true.</summary>
    public bool HandleCtrlC { get; init; } = true;

    /// <summary>
    /// Whether plain TCP and Unix socket streams go through .NET's asynchronous socket methods (the portable path,
    /// as on every OS but Linux) instead of the loop's own epoll selector, which on Linux runs every read, write and
    /// accept on the loop thread. Null (the default) takes the KETTLE_SELECTOR environment variable: "portable"
    /// turns the selector off. TLS streams and pipes always take the portable path.
    /// </summary>
    public bool? PortableIo { get; init; }
}
