using System.Net;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kettle.Tests;

/// <summary>A real Kestrel server on 127.0.0.1, shared by the ecosystem tests.</summary>
public sealed class KestrelFixture : IAsyncLifetime
{
    private WebApplication? app;

    public string BaseUrl { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        app = builder.Build();
        app.UseWebSockets();
        app.MapGet("/item/{id:int}", (int id) => $"item {id}");
        app.MapGet("/slow", async (HttpContext ctx) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), ctx.RequestAborted);
            return "late";
        });
        app.Map("/ws", async (HttpContext ctx) =>
        {
            if (!ctx.WebSockets.IsWebSocketRequest)
            {
                ctx.Response.StatusCode = 400;
                return;
            }
            using var ws = await ctx.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[4096];
            while (true)
            {
                var r = await ws.ReceiveAsync(buffer, ctx.RequestAborted);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    return;
                }
                await ws.SendAsync(buffer.AsMemory(0, r.Count), r.MessageType, r.EndOfMessage, ctx.RequestAborted);
            }
        });
        await app.StartAsync();
        BaseUrl = app.Urls.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal);
    }

    public async Task DisposeAsync()
    {
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}

/// <summary>Ordinary .NET async clients on the loop: they resume on the loop thread and stop through the task's token.</summary>
public class EcosystemTests : IClassFixture<KestrelFixture>
{
    private static readonly RunOptions RealClock = new() { HandleCtrlC = false };
    private readonly KestrelFixture server;

    public EcosystemTests(KestrelFixture server) => this.server = server;

    private static void Run(Func<Coroutine> main) => HangGuard.Run(() => Aio.Run(main(), RealClock));

    [Fact]
    public void HttpClientRequestsRunConcurrentlyAndResumeOnTheLoopThread()
    {
        string baseUrl = server.BaseUrl;
        Run(async () =>
        {
            using var http = new HttpClient();
            int loopThread = Environment.CurrentManagedThreadId;
            var sem = new AioSemaphore(5);
            async Coroutine<string> Fetch(int i)
            {
                using (await sem.Acquire())
                {
                    var body = await http.GetStringAsync($"{baseUrl}/item/{i}", Aio.CurrentTask!.CancellationToken);
                    Assert.Equal(loopThread, Environment.CurrentManagedThreadId);
                    return body;
                }
            }
            string[] bodies = await Aio.Gather(Enumerable.Range(0, 30).Select(i => Aio.CreateTask(Fetch(i))).ToArray());
            Assert.Equal(Enumerable.Range(0, 30).Select(i => $"item {i}"), bodies);
        });
    }

    [Fact]
    public void CancellingATaskCancelsItsHttpRequestThroughTheToken()
    {
        string baseUrl = server.BaseUrl;
        Run(async () =>
        {
            using var http = new HttpClient();
            var request = Aio.CreateTask(ct => http.GetStringAsync($"{baseUrl}/slow", ct), "slow-request");
            await Aio.Sleep(0.1);
            Assert.False(request.IsDone);
            request.Cancel();
            await Assert.ThrowsAsync<CancelledException>(async () => await request);
            Assert.True(request.IsCancelled);

            // The same inside a Kettle coroutine, bounded by Aio.Timeout.
            bool timedOut = false;
            try
            {
                await Aio.Timeout(0.2, async _ => await http.GetStringAsync($"{baseUrl}/slow", Aio.CurrentTask!.CancellationToken));
            }
            catch (TimeoutException)
            {
                timedOut = true;
            }
            Assert.True(timedOut);
        });
    }

    [Fact]
    public void ClientWebSocketEchoOnTheLoop()
    {
        string wsUrl = server.BaseUrl.Replace("http://", "ws://", StringComparison.Ordinal) + "/ws";
        Run(async () =>
        {
            using var ws = new ClientWebSocket();
            var token = Aio.CurrentTask!.CancellationToken;
            await ws.ConnectAsync(new Uri(wsUrl), token);
            var buffer = new byte[1024];
            foreach (var text in new[] { "ping", "kettle" })
            {
                await ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, token);
                var r = await ws.ReceiveAsync(buffer, token);
                Assert.Equal(text, Encoding.UTF8.GetString(buffer, 0, r.Count));
            }
            // A receive that waits is cancelled with its task.
            var waiting = Aio.CreateTask(ct => ws.ReceiveAsync(buffer, ct), "ws-receive");
            await Aio.Sleep(0.05);
            waiting.Cancel();
            await Assert.ThrowsAsync<CancelledException>(async () => await waiting);
        });
    }

    [Fact]
    public void AsyncFileStreamOnTheLoop()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kettle-file-{Guid.NewGuid():N}.bin");
        try
        {
            Run(async () =>
            {
                int loopThread = Environment.CurrentManagedThreadId;
                var data = new byte[1 << 20];
                new Random(3).NextBytes(data);
                var token = Aio.CurrentTask!.CancellationToken;
                await using (var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 4096, useAsync: true))
                {
                    await f.WriteAsync(data, token);
                }
                Assert.Equal(loopThread, Environment.CurrentManagedThreadId);
                await using (var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, useAsync: true))
                {
                    var back = new byte[data.Length];
                    await f.ReadExactlyAsync(back, token);
                    Assert.Equal(data, back);
                }
                Assert.Equal(loopThread, Environment.CurrentManagedThreadId);
            });
        }
        finally
        {
            File.Delete(path);
        }
    }
}
