using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace Kettle;

public static partial class Aio
{
    /// <summary>
    /// Connects over TCP to <paramref name="host"/>:<paramref name="port"/> (trying each address the name
    /// resolves to) and returns the connection's reader and writer. With <paramref name="ssl"/>, negotiates TLS
    /// through <see cref="SslStream"/> (its TargetHost defaults to <paramref name="host"/>). TCP_NODELAY is set.
    /// asyncio counterpart: <c>asyncio.open_connection(host, port, ssl=..., limit=...)</c>.
    /// </summary>
    /// <remarks>A cancellation point (resolution, connect and handshake take the task's token). A host that
    /// does not resolve or a refused connection throws <see cref="SocketException"/>.
    /// Threading: loop thread only.</remarks>
    public static async Coroutine<(AioStreamReader Reader, AioStreamWriter Writer)> OpenConnection(
        string host, int port, SslClientAuthenticationOptions? ssl = null, int limit = AioStreamReader.DefaultLimit)
    {
        ArgumentNullException.ThrowIfNull(host);
        var loop = GetRunningLoop();
        var token = loop.currentTask?.CancellationToken ?? default;
        IPAddress[] addresses = IPAddress.TryParse(host, out var literal)
            ? [literal]
            : await Resolve(host, token);
        SocketException? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), token);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
                continue;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            return await Wrap(loop, socket, ssl, host, limit, token);
        }
        throw last is null
            ? new SocketException((int)SocketError.HostNotFound, $"Cannot connect to {host}:{port}: the name resolves to no address.")
            : new SocketException((int)last.SocketErrorCode, $"Cannot connect to {host}:{port}: {last.Message}");
    }

    /// <summary>Resolves a host name; a failure names the host.</summary>
    private static async Coroutine<IPAddress[]> Resolve(string host, CancellationToken token)
    {
        try
        {
            return await Dns.GetHostAddressesAsync(host, token);
        }
        catch (SocketException ex)
        {
            throw new SocketException((int)ex.SocketErrorCode, $"Cannot resolve host '{host}': {ex.Message}");
        }
    }

    /// <summary>
    /// Connects to the Unix domain socket at <paramref name="path"/> and returns the reader and writer.
    /// asyncio counterpart: <c>asyncio.open_unix_connection(path, ...)</c>.
    /// </summary>
    /// <remarks>A cancellation point. Threading: loop thread only.</remarks>
    public static async Coroutine<(AioStreamReader Reader, AioStreamWriter Writer)> OpenUnixConnection(
        string path, SslClientAuthenticationOptions? ssl = null, int limit = AioStreamReader.DefaultLimit)
    {
        ArgumentNullException.ThrowIfNull(path);
        var loop = GetRunningLoop();
        var token = loop.currentTask?.CancellationToken ?? default;
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return await Wrap(loop, socket, ssl, "localhost", limit, token);
    }

    private static async Coroutine<(AioStreamReader Reader, AioStreamWriter Writer)> Wrap(
        EventLoop loop, Socket socket, SslClientAuthenticationOptions? ssl, string host, int limit, CancellationToken token)
    {
        Transport transport = ssl is null
            ? loop.Selector.Enabled ? new SelectorSocketTransport(socket, loop) : new SocketTransport(socket)
            : await SslTransport.ConnectAsync(socket, ssl, host, token);
        var reader = new AioStreamReader(transport, loop, limit);
        return (reader, new AioStreamWriter(transport, loop, reader));
    }

    /// <summary>
    /// Starts a TCP server on <paramref name="host"/> (null or "" for every interface) and
    /// <paramref name="port"/> (0 for a free one; see <see cref="AioServer.Port"/>). Each connection runs
    /// <paramref name="handler"/> as a task named <c>conn-&lt;peer&gt;</c>. With <paramref name="ssl"/>, each
    /// connection negotiates TLS first. asyncio counterpart: <c>asyncio.start_server(cb, host, port, ...)</c>.
    /// </summary>
    /// <remarks>A port in use throws <see cref="SocketException"/> (AddressAlreadyInUse).
    /// Threading: loop thread only.</remarks>
    public static async Coroutine<AioServer> StartServer(
        Func<AioStreamReader, AioStreamWriter, Coroutine> handler, string? host, int port,
        SslServerAuthenticationOptions? ssl = null, int limit = AioStreamReader.DefaultLimit, int backlog = 100)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var loop = GetRunningLoop();
        var token = loop.currentTask?.CancellationToken ?? default;
        IPAddress[] addresses = string.IsNullOrEmpty(host)
            ? [Socket.OSSupportsIPv6 ? IPAddress.IPv6Any : IPAddress.Any]
            : IPAddress.TryParse(host, out var literal) ? [literal] : await Resolve(host, token);
        var listeners = new List<Socket>();
        try
        {
            foreach (var address in addresses)
            {
                var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                listeners.Add(socket);
                if (address.Equals(IPAddress.IPv6Any))
                {
                    socket.DualMode = true;
                }
                try
                {
                    socket.Bind(new IPEndPoint(address, port));
                }
                catch (SocketException ex)
                {
                    throw new SocketException((int)ex.SocketErrorCode, $"Cannot listen on {new IPEndPoint(address, port)}: {ex.Message}");
                }
                socket.Listen(backlog);
            }
        }
        catch
        {
            foreach (var s in listeners)
            {
                s.Dispose();
            }
            throw;
        }
        return new AioServer(loop, listeners, handler, limit, ssl, null);
    }

    /// <summary>
    /// Starts a server on the Unix domain socket <paramref name="path"/> (a stale socket file there is
    /// replaced; the file is removed when the server closes). asyncio counterpart: <c>asyncio.start_unix_server</c>.
    /// </summary>
    /// <remarks>Threading: loop thread only.</remarks>
    public static Coroutine<AioServer> StartUnixServer(
        Func<AioStreamReader, AioStreamWriter, Coroutine> handler, string path,
        SslServerAuthenticationOptions? ssl = null, int limit = AioStreamReader.DefaultLimit, int backlog = 100)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return Start();

        async Coroutine<AioServer> Start()
        {
            var loop = GetRunningLoop();
            for (int attempt = 0; ; attempt++)
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                bool inUse = false;
                try
                {
                    socket.Bind(new UnixDomainSocketEndPoint(path));
                    socket.Listen(backlog);
                    return new AioServer(loop, [socket], handler, limit, ssl, path);
                }
                catch (SocketException ex) when (attempt == 0 && ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
                {
                    socket.Dispose();
                    inUse = true;
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
                if (inUse && !await IsStaleUnixSocket(path))
                {
                    throw new SocketException((int)SocketError.AddressAlreadyInUse);
                }
                // asyncio removes a stale socket file left by an earlier server; a live one stays an error.
                File.Delete(path);
            }
        }
    }

    private static async Coroutine<bool> IsStaleUnixSocket(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(path));
            return false;
        }
        catch (SocketException ex)
        {
            return ex.SocketErrorCode == SocketError.ConnectionRefused;
        }
    }
}
