using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace Kettle;

/// <summary>
/// A listening server made by <see cref="Aio.StartServer"/> or <see cref="Aio.StartUnixServer"/>: each accepted
/// connection's handler runs as a named Kettle task (<c>conn-&lt;peer&gt;</c>). asyncio counterpart:
/// <c>asyncio.Server</c> (<c>asyncio.base_events.Server</c>).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><see cref="Close"/> stops accepting; running handlers go on. <see cref="WaitClosed"/> waits until the
/// server is closed and every handler has ended: no handler outlives it.</item>
/// <item>If the task awaiting <see cref="WaitClosed"/> or <see cref="ServeForever"/> is cancelled, the server
/// closes, cancels its handlers and waits for them before the cancellation goes on.</item>
/// <item>When a handler ends, its connection is closed (after the buffered data is sent). A handler's
/// exception goes to the loop's exception handler (asyncio logs it the same way).</item>
/// </list>
/// <para>Threading: loop thread only.</para>
/// </remarks>
public sealed class AioServer
{
    private readonly EventLoop loop;
    private readonly List<Socket> listeners;
    private readonly List<EndPoint> endPoints = new();
    private readonly Func<AioStreamReader, AioStreamWriter, Coroutine> handler;
    private readonly int limit;
    private readonly SslServerAuthenticationOptions? ssl;
    private readonly string? unixPath;
    private readonly HashSet<AioTask> handlers = new();
    private readonly HashSet<Connection> connections = new();
    private List<Future<bool>>? idleWaiters;
    private Future<bool>? serving;
    private bool closed;
    private List<SelectorListener>? selected;

    internal AioServer(EventLoop loop, List<Socket> listeners, Func<AioStreamReader, AioStreamWriter, Coroutine> handler, int limit, SslServerAuthenticationOptions? ssl, string? unixPath)
    {
        this.loop = loop;
        this.listeners = listeners;
        this.handler = handler;
        this.limit = limit;
        this.ssl = ssl;
        this.unixPath = unixPath;
        // The accept loops are not tasks: a listening server is not outside work the loop waits for, so under a
        // VirtualClock an idle server does not hold back time. Their awaits resume on the loop through its
        // SynchronizationContext.
        var saved = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(loop.SynchronizationContext);
        try
        {
            foreach (var s in listeners)
            {
                endPoints.Add(s.LocalEndPoint!);
                if (loop.Selector.Enabled)
                {
                    // Selector path: accepted on the loop thread when the listener is readable (never counted as
                    // outside work, as the accept loop below is not).
                    (selected ??= new()).Add(new SelectorListener(this, s));
                }
                else
                {
                    _ = AcceptLoop(s);
                }
            }
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(saved);
        }
    }

    /// <summary>The listening sockets (empty once closed). asyncio: <c>Server.sockets</c>.</summary>
    public IReadOnlyList<Socket> Sockets => closed ? [] : listeners;

    /// <summary>The addresses the server listens on.</summary>
    public IReadOnlyList<EndPoint> EndPoints => endPoints;

    /// <summary>The TCP port of the first listening address (0 for a Unix socket server).</summary>
    public int Port => endPoints.Count > 0 && endPoints[0] is IPEndPoint ip ? ip.Port : 0;

    /// <summary>Whether the server accepts connections. asyncio: <c>is_serving()</c>.</summary>
    public bool IsServing => !closed;

    /// <summary>How many connection handlers are running.</summary>
    public int ActiveHandlers => handlers.Count;

    /// <summary>The running connection handler tasks.</summary>
    public IReadOnlyCollection<AioTask> Handlers => handlers.ToArray();

    /// <summary>Stops accepting and closes the listening sockets; running handlers go on. Idempotent.
    /// asyncio: <c>close()</c>.</summary>
    public void Close()
    {
        loop.CheckThread(nameof(Close));
        if (closed)
        {
            return;
        }
        closed = true;
        if (selected is not null)
        {
            foreach (var l in selected)
            {
                l.Unregister();
            }
        }
        foreach (var s in listeners)
        {
            s.Dispose();
        }
        if (unixPath is not null)
        {
            try
            {
                File.Delete(unixPath);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Already gone, or not ours to remove: nothing to clean.
            }
        }
        serving?.TrySetResult(true);
        WakeIfIdle();
    }

    /// <summary>Closes every open connection (buffered data is still sent); their handlers read the end of the
    /// stream. asyncio: <c>close_clients()</c> (3.13).</summary>
    public void CloseClients()
    {
        loop.CheckThread(nameof(CloseClients));
        foreach (var c in connections.ToArray())
        {
            c.ClosedByServer = true;
            if (c.Writer is { } w)
            {
                w.Close();
            }
            else
            {
                c.Socket.Dispose(); // still in its TLS handshake
            }
        }
    }

    /// <summary>Cancels every running handler task.</summary>
    public void CancelHandlers(string? message = null)
    {
        loop.CheckThread(nameof(CancelHandlers));
        foreach (var h in handlers.ToArray())
        {
            h.Cancel(message);
        }
    }

    /// <summary>
    /// Waits until the server is closed and every handler has ended. If the waiting task is cancelled, closes
    /// the server, cancels the handlers and waits for them, then lets the cancellation go on.
    /// asyncio: <c>wait_closed()</c> (3.12 semantics: it waits for the connections).
    /// </summary>
    public async Coroutine WaitClosed()
    {
        loop.CheckThread(nameof(WaitClosed));
        try
        {
            await WaitIdle();
        }
        catch (CancelledException)
        {
            Close();
            CancelHandlers();
            await WaitIdle();
            throw;
        }
    }

    /// <summary>
    /// Serves until <see cref="Close"/> is called, then waits for the handlers. Cancelling the awaiting task
    /// closes the server and cancels the handlers (waiting for them). asyncio: <c>serve_forever()</c>.
    /// </summary>
    public async Coroutine ServeForever()
    {
        loop.CheckThread(nameof(ServeForever));
        if (serving is not null)
        {
            throw new InvalidOperationException("ServeForever is already being awaited on this server.");
        }
        if (!closed)
        {
            serving = new Future<bool>(loop);
            try
            {
                await serving;
            }
            catch (CancelledException)
            {
                Close();
                CancelHandlers();
                await WaitIdle();
                throw;
            }
            finally
            {
                serving = null;
            }
        }
        await WaitClosed();
    }

    private async Coroutine WaitIdle()
    {
        while (!closed || handlers.Count > 0)
        {
            var f = new Future<bool>(loop);
            (idleWaiters ??= new()).Add(f);
            try
            {
                await f;
            }
            finally
            {
                idleWaiters.Remove(f);
            }
        }
    }

    private void WakeIfIdle()
    {
        if (closed && handlers.Count == 0 && idleWaiters is { Count: > 0 } list)
        {
            foreach (var f in list.ToArray())
            {
                f.TrySetResult(true);
            }
        }
    }

    private async Task AcceptLoop(Socket listener)
    {
        try
        {
            await AcceptConnections(listener);
        }
        catch (Exception ex)
        {
            if (!closed && !loop.IsClosed)
            {
                loop.CallExceptionHandler(new LoopExceptionContext($"The accept loop on {listener.LocalEndPoint} failed; the server no longer accepts there", ex));
            }
        }
    }

    private async Task AcceptConnections(Socket listener)
    {
        while (!closed)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync();
            }
            catch (Exception) when (closed)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Out of file descriptors, a connection reset before accept...: report, pause, go on (asyncio does).
                loop.CallExceptionHandler(new LoopExceptionContext($"Accepting a connection on {listener.LocalEndPoint} failed", ex));
                await Task.Delay(100);
                continue;
            }
            if (closed)
            {
                socket.Dispose();
                return;
            }
            StartHandler(socket);
        }
    }

    /// <summary>Selector path: accepts until the listener would block (the registration is edge-triggered).</summary>
    // The closure is made here, not in AcceptReady: there the compiler allocated it on entry, at every readiness of
    // the listening socket, though only a failed accept needs it.
    private void RetryAcceptLater(SelectorListener from) => loop.CallLater(0.1, () => AcceptReady(from));

    private void AcceptReady(SelectorListener from)
    {
        var listener = from.Socket;
        while (!closed)
        {
            Socket socket;
            try
            {
                socket = listener.Accept();
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                // Gone before it was accepted: take the next one.
                continue;
            }
            catch (Exception) when (closed)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Out of file descriptors and the like: report, pause, go on (asyncio does). No edge comes for
                // connections already queued, so the retry is a timer.
                loop.CallExceptionHandler(new LoopExceptionContext($"Accepting a connection on {listener.LocalEndPoint} failed", ex));
                RetryAcceptLater(from);
                return;
            }
            try
            {
                if (ssl is not null)
                {
                    // An accepted socket inherits the listener's non-blocking mode; SslStream over a NetworkStream needs it blocking.
                    socket.Blocking = true;
                }
                StartHandler(socket);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Reset before it could be set up (the selector refused it): drop it, go on.
                socket.Dispose();
            }
            catch (Exception ex)
            {
                // This runs from the selector, where an exception would stop the loop: report it instead.
                socket.Dispose();
                loop.CallExceptionHandler(new LoopExceptionContext($"Starting a handler for a connection on {listener.LocalEndPoint} failed", ex));
            }
        }
    }

    /// <summary>A listening socket registered with the loop's selector.</summary>
    private sealed class SelectorListener : IIoReady
    {
        private readonly AioServer server;
        private readonly nint fd;
        private int token;

        public SelectorListener(AioServer server, Socket socket)
        {
            this.server = server;
            Socket = socket;
            socket.Blocking = false;
            fd = socket.SafeHandle.DangerousGetHandle();
            // Connections already queued show as an edge at once (epoll reports the current state when adding).
            token = server.loop.Selector.Register(fd, LoopSelector.Readable, this);
        }

        public Socket Socket { get; }

        public void OnIoReady(uint events) => server.AcceptReady(this);

        public void Unregister()
        {
            server.loop.Selector.Unregister(fd, token);
            token = -1;
        }
    }

    private void StartHandler(Socket socket)
    {
        string peer;
        try
        {
            if (socket.AddressFamily != AddressFamily.Unix)
            {
                socket.NoDelay = true;
            }
            peer = socket.RemoteEndPoint?.ToString() ?? "?";
        }
        catch (SocketException)
        {
            peer = "?";
        }
        if (socket.AddressFamily == AddressFamily.Unix && (peer.Length == 0 || peer == "?"))
        {
            peer = "unix";
        }
        var connection = new Connection(socket);
        if (ssl is null)
        {
            // Ready before the task starts, so CloseClients reaches a handler that has not run yet.
            connection.Open(loop.Selector.Enabled ? new SelectorSocketTransport(socket, loop) : new SocketTransport(socket), loop, limit);
        }
        connections.Add(connection);
        var task = loop.CreateTask(RunHandler(connection), $"conn-{peer}");
        if (!task.IsDone)
        {
            handlers.Add(task);
            task.AddDoneCallback(t =>
            {
                handlers.Remove(t);
                WakeIfIdle();
            });
        }
    }

    private async Coroutine RunHandler(Connection connection)
    {
        try
        {
            if (connection.Writer is null)
            {
                var transport = await SslTransport.AcceptAsync(connection.Socket, ssl!, loop.currentTask!.CancellationToken);
                connection.Open(transport, loop, limit);
                if (connection.ClosedByServer)
                {
                    return;
                }
            }
            await handler(connection.Reader!, connection.Writer!);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            if (!(connection.ClosedByServer && connection.Writer is null))
            {
                loop.CallExceptionHandler(new LoopExceptionContext("Unhandled exception in a connection handler", ex) { Task = loop.currentTask });
            }
        }
        finally
        {
            connections.Remove(connection);
            if (connection.Writer is { } w)
            {
                w.Close();
            }
            else
            {
                connection.Socket.Dispose();
            }
        }
    }

    /// <summary>One accepted connection: its streams exist once the transport is ready (after TLS's handshake).</summary>
    private sealed class Connection
    {
        public Connection(Socket socket) => Socket = socket;

        public Socket Socket { get; }

        public AioStreamReader? Reader { get; private set; }

        public AioStreamWriter? Writer { get; private set; }

        public bool ClosedByServer { get; set; }

        public void Open(Transport transport, EventLoop loop, int limit)
        {
            Reader = new AioStreamReader(transport, loop, limit);
            Writer = new AioStreamWriter(transport, loop, Reader);
            if (ClosedByServer)
            {
                Writer.Close();
            }
        }
    }
}
