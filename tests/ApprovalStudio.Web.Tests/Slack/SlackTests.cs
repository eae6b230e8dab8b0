using System.Net;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Slack;

/// <summary>Slack against a local stand-in: messages with buttons, signed presses through the resume pipeline, the outcome back in the message.</summary>
public sealed class SlackTests
{
    private const string Expense = """
        {"key":"expense","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR <b>now</b>","assignees":{"groups":["managers"]},"expiresAfter":"P1D"},
                  {"id":"book","type":"set","values":{"booked":"manager.decision","by":"manager.actor"}}],
         "edges":[{"from":"manager","to":"book"}]}
        """;

    private const string Strict = """
        {"key":"strict","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Strict approval","assignees":{"users":["mia"]},"requireCommentOnReject":true}],
         "edges":[]}
        """;

    private static async Task<(Channels Channels, string Run, string ResId, JsonObject Message)> StartAsync(
        string flow = Expense, string key = "expense", Provider provider = Provider.Sqlite)
    {
        var channels = await Channels.StartAsync(provider);
        await channels.Host.CreateWorkflowAsync(flow);
        await channels.AddPersonAsync("mia", ["managers"], slackUserId: "U0MIA");
        await channels.AddPersonAsync("max", ["managers"], slackUserId: "U0MAX");
        var run = await channels.Host.StartRunAsync(key, """{"amount":75}""");
        var resId = await channels.Host.WaitForTaskAsync(run);
        var message = await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U0MIA");
        return (channels, run, resId, message);
    }

    private static async Task<HttpResponseMessage> SendAsync(Channels channels, HttpRequestMessage request)
    {
        using (request)
        {
            return await channels.Host.Anonymous.SendAsync(request);
        }
    }

    [Fact]
    public async Task Without_a_signing_secret_the_interactions_endpoint_is_off()
    {
        await using var host = await AppHost.StartAsync();

        using var response = await host.Anonymous.SendAsync(SlackStandIn.Interaction(new JsonObject { ["type"] = "block_actions" }));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("Slack:SigningSecret", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static JsonArray Buttons(JsonObject message) =>
        message["blocks"]!.AsArray().Single(b => (string?)b!["type"] == "actions")!["elements"]!.AsArray();

    [Fact]
    public async Task A_new_task_posts_each_assignee_a_message_with_buttons_and_their_own_link()
    {
        var (channels, _, resId, mia) = await StartAsync();
        await using var _ = channels;
        var max = await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U0MAX");

        Assert.Equal("Approve 75 EUR &lt;b&gt;now&lt;/b&gt;", (string?)mia["text"]);
        Assert.Contains("*Approve 75 EUR &lt;b&gt;now&lt;/b&gt;*", mia["blocks"]![0]!["text"]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        var buttons = Buttons(mia);
        Assert.Equal(["approve", "reject", "open"], buttons.Select(b => (string?)b!["action_id"]));
        Assert.All(buttons.Take(2), b => Assert.Equal(resId, (string?)b!["value"]));
        var link = (string)buttons[2]!["url"]!;
        Assert.StartsWith($"{channels.Host.Address.ToString().TrimEnd('/')}/links/", link, StringComparison.Ordinal);
        // The link says it came through Slack inside its signature, not in a query string anyone could change.
        Assert.DoesNotContain("?", link, StringComparison.Ordinal);
        var (grant, refusal) = await channels.Host.Services.GetRequiredService<DeepLinkTokens>().ReadAsync(link[(link.LastIndexOf('/') + 1)..]);
        Assert.Null(refusal);
        Assert.Equal(("mia", NotificationChannels.Slack), (grant!.UserId, grant.Channel));
        Assert.NotEqual(link, (string?)Buttons(max)[2]!["url"]);
    }

    [Fact]
    public async Task A_rejection_that_needs_a_comment_is_offered_through_the_link_not_as_a_button()
    {
        var (channels, _, resId, mia) = await StartAsync(Strict, "strict");
        await using var _ = channels;

        var buttons = Buttons(mia);
        Assert.Equal(["approve", "open"], buttons.Select(b => (string?)b!["action_id"]));
        Assert.Equal("Reject with a comment…", (string?)buttons[1]!["text"]!["text"]);

        // A forged "reject" press without a comment is refused by the pipeline, and told to the presser only.
        using var response = await SendAsync(channels, SlackStandIn.Interaction(channels.Slack.Press("U0MIA", "reject", resId, "r1")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var note = await channels.Slack.WaitForResponseAsync("r1");
        Assert.Equal("ephemeral", (string?)note["response_type"]);
        Assert.Contains("A comment is required when rejecting.", (string?)note["text"], StringComparison.Ordinal);
        await using var db = channels.Host.Database.OpenContext();
        Assert.Equal(TaskStatuses.Pending, (await db.Tasks.SingleAsync(t => t.ResId == resId)).Status);
    }

    [Fact]
    public async Task A_signed_press_answers_slack_at_once_resumes_the_run_and_the_message_shows_the_outcome()
    {
        var (channels, run, resId, mia) = await StartAsync();
        await using var _ = channels;
        var max = await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U0MAX");
        await channels.WaitForNotificationsAsync(run, r => r.Count(n => n.Status == NotificationStatuses.Sent) == 2);

        // A press of the link button first, so that the timed request below does not also pay for the endpoint's first run.
        using (var warmUp = await SendAsync(channels, SlackStandIn.Interaction(channels.Slack.Press("U0MIA", "open", resId, "warm-up"))))
        {
            Assert.Equal(HttpStatusCode.OK, warmUp.StatusCode);
        }

        // The response URL takes 5 s: the interaction still answers within Slack's 3 seconds, because the update goes through the outbox.
        using var client = new HttpClient { BaseAddress = channels.Host.Address, Timeout = TimeSpan.FromSeconds(3) };
        using var request = SlackStandIn.Interaction(channels.Slack.Press("U0MIA", "approve", resId, "slow-update", (string?)mia["ts"]));
        using (var response = await client.SendAsync(request))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var done = await channels.Host.WaitForAsync(run, s => (string?)s["status"] == "Completed");
        Assert.Equal("Approved", (string?)done["output"]!["booked"]);
        Assert.Equal("mia", (string?)done["output"]!["by"]);
        var update = await channels.Slack.WaitForResponseAsync("slow-update");
        Assert.True((bool?)update["replace_original"]);
        Assert.StartsWith("Approved by Mia via slack at ", update["blocks"]![1]!["elements"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain(update["blocks"]!.AsArray(), b => (string?)b!["type"] == "actions");

        // Max's message loses its buttons too (chat.update); Mia's own was replaced through the response URL, not twice.
        var maxUpdate = await channels.Slack.WaitForUpdateAsync(u => (string?)u["ts"] == (string?)max["ts"]);
        Assert.Equal("U0MAX", (string?)maxUpdate["channel"]);
        Assert.StartsWith("Approved by Mia via slack at ", maxUpdate["blocks"]![1]!["elements"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        var rows = await channels.WaitForNotificationsAsync(run, r => r.Any(n => n.Kind == NotificationKinds.SlackUpdate && n.Status == NotificationStatuses.Sent));
        Assert.Equal("max", Assert.Single(rows, n => n.Kind == NotificationKinds.SlackUpdate).RecipientUserId);
        Assert.DoesNotContain(channels.Slack.Updated, u => (string?)u["ts"] == (string?)mia["ts"]);
        await using var db = channels.Host.Database.OpenContext();
        var audit = await db.Audit.SingleAsync(a => a.ExecutionId == run);
        Assert.Equal(("mia", "slack"), (audit.Actor, audit.Channel));
    }

    /// <summary>
    /// What an instance killed in the middle of sending leaves: rows still leased past their lease, one whose message Slack had
    /// already taken (the instance died before recording it) and one it never got. The next sender looks each up (by the
    /// row in the message's metadata) before posting: the first is recorded as sent, not posted twice — though its task was
    /// answered meanwhile, so that its buttons are then replaced with the outcome — and the second is posted. A lookup that
    /// fails (Slack down) leaves the row in doubt, and the next attempt looks again rather than posting blind.
    /// </summary>
    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task A_message_in_doubt_after_a_crash_is_looked_for_and_posted_only_if_slack_never_got_it(Provider provider)
    {
        // The first instance does not send (as if it died while sending); the second one does.
        await using var channels = await Channels.StartAsync(provider, settings: new Dictionary<string, string?> { ["Notifications:Enabled"] = "false" });
        await channels.Host.CreateWorkflowAsync(Strict);
        await channels.AddPersonAsync("mia", ["managers"], slackUserId: "U0MIA");
        var runs = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            runs.Add(await channels.Host.StartRunAsync("strict"));
            await channels.Host.WaitForTaskAsync(runs[^1]);
        }

        var rows = new List<NotificationRecord>();
        foreach (var run in runs)
        {
            rows.Add((await channels.WaitForNotificationsAsync(run, r => r.Count == 1)).Single()); // its Slack message
        }

        // The dead sender got the first message to Slack (as the app posts it: the row in its metadata) and no further.
        using (var post = new HttpRequestMessage(HttpMethod.Post, new Uri(channels.Slack.ApiBaseUrl, "chat.postMessage"))
        {
            Content = AppHost.Json(new JsonObject
            {
                ["channel"] = "U0MIA", ["text"] = "Strict approval",
                ["metadata"] = new JsonObject { ["event_type"] = "approval_studio_notification", ["event_payload"] = new JsonObject { ["notification"] = $"{rows[0].Id}" } },
            }.ToJsonString()),
        })
        {
            post.Headers.Authorization = new("Bearer", SlackStandIn.BotToken);
            using var http = new HttpClient();
            using var posted = await http.SendAsync(post);
            Assert.True(posted.IsSuccessStatusCode);
        }

        var first = Assert.Single(channels.Slack.Posted);
        await using (var db = channels.Host.Database.OpenContext())
        {
            var ids = rows.Select(r => r.Id).ToList();
            await db.Notifications.Where(n => ids.Contains(n.Id)).ExecuteUpdateAsync(s => s
                .SetProperty(n => n.Status, NotificationStatuses.Leased)
                .SetProperty(n => n.LeaseOwner, "vm:4242:dead")
                .SetProperty(n => n.LeasedUntil, DateTime.UtcNow.AddSeconds(-1)));
        }

        // The first task is answered before anyone sends again.
        var firstTask = await channels.Host.WaitForTaskAsync(runs[0]);
        var (status, _, _) = await AppHost.SendAsync(channels.Host.Client(channels.Host.Token("mia", ["managers"])), HttpMethod.Post,
            $"/api/executions/{firstTask}/resume", """{"decision":"Approved"}""");
        Assert.Equal(HttpStatusCode.Accepted, status);
        await channels.Host.WaitForAsync(runs[0], s => (string?)s["status"] == "Completed");

        channels.Slack.FailNextLookups = 1;
        await using var sender = await channels.StartAnotherInstanceAsync(new Dictionary<string, string?>
        {
            ["Notifications:Enabled"] = "true", ["Notifications:BaseBackoff"] = "00:00:00.200",
        });
        var sent = new List<NotificationRecord>();
        foreach (var run in runs)
        {
            sent.Add((await channels.WaitForNotificationsAsync(run, r => r.Single(n => n.Kind == NotificationKinds.TaskCreated).Status == NotificationStatuses.Sent))
                .Single(n => n.Kind == NotificationKinds.TaskCreated));
        }

        // The first was found, not posted again, and replaced with its outcome; the second was posted once. Both were looked
        // up first, one of them twice (its first lookup met Slack down), and neither is in doubt any more.
        Assert.Equal($"DU0MIA/{(string?)first["ts"]}", sent[0].ExternalId);
        var update = await channels.Slack.WaitForUpdateAsync(u => (string?)u["ts"] == (string?)first["ts"]);
        Assert.StartsWith("Approved by mia via api at ", update["blocks"]![1]!["elements"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(2, channels.Slack.Posted.Count);
        var second = channels.Slack.Posted.Last();
        Assert.Equal(rows[1].Id.ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)second["metadata"]!["event_payload"]!["notification"]);
        Assert.Equal($"U0MIA/{(string?)second["ts"]}", sent[1].ExternalId);
        Assert.Equal(3, Volatile.Read(ref channels.Slack.Lookups));
        Assert.All(sent, n => Assert.Null(n.InDoubtSince));
        Assert.Equal(1, sent.Sum(n => n.Attempts)); // the failed lookup
    }

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task A_message_still_on_its_way_when_the_task_is_answered_loses_its_buttons_once_it_is_posted(Provider provider)
    {
        await using var channels = await Channels.StartAsync(provider);
        await channels.Host.CreateWorkflowAsync(Expense);
        await channels.AddPersonAsync("mia", ["managers"], slackUserId: "U0MIA");
        await channels.AddPersonAsync("max", ["managers"], slackUserId: "U0MAX");
        channels.Slack.HoldPostsTo = "U0MAX";
        var run = await channels.Host.StartRunAsync("expense", """{"amount":75}""");
        var resId = await channels.Host.WaitForTaskAsync(run);
        var mia = await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U0MIA");
        await channels.Slack.HeldPostArrived.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // Max's message is being posted (its row leased, past its check that the task is open) when Mia answers in the inbox's API.
        var (status, _, _) = await AppHost.SendAsync(channels.Host.Client(channels.Host.Token("mia", ["managers"])), HttpMethod.Post,
            $"/api/executions/{resId}/resume", """{"decision":"Approved"}""");
        Assert.Equal(HttpStatusCode.Accepted, status);
        await channels.Host.WaitForAsync(run, s => (string?)s["status"] == "Completed");
        // Meanwhile the held post holds up nothing else: Mia's message is updated before Slack's 15-second timeout for Max's post.
        var miaUpdate = await channels.Slack.WaitForUpdateAsync(u => (string?)u["ts"] == (string?)mia["ts"], TimeSpan.FromSeconds(10));
        Assert.StartsWith("Approved by mia via api at ", miaUpdate["blocks"]![1]!["elements"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);

        channels.Slack.ReleaseHeldPost.SetResult();
        var max = await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U0MAX");
        Assert.Contains(max["blocks"]!.AsArray(), b => (string?)b!["type"] == "actions");
        var maxUpdate = await channels.Slack.WaitForUpdateAsync(u => (string?)u["ts"] == (string?)max["ts"]);
        Assert.Equal("U0MAX", (string?)maxUpdate["channel"]);
        Assert.StartsWith("Approved by mia via api at ", maxUpdate["blocks"]![1]!["elements"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain(maxUpdate["blocks"]!.AsArray(), b => (string?)b!["type"] == "actions");
        var rows = await channels.WaitForNotificationsAsync(run, r => r.Count(n => n.Kind == NotificationKinds.SlackUpdate && n.Status == NotificationStatuses.Sent) == 2);
        Assert.All(rows.Where(n => n.Kind == NotificationKinds.SlackUpdate), n => Assert.Equal(0, n.Attempts));
    }

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task A_bad_signature_a_stale_timestamp_missing_headers_and_a_replay_are_refused_and_change_nothing(Provider provider)
    {
        var (channels, run, resId, _) = await StartAsync(provider: provider);
        await using var _ = channels;
        var press = channels.Slack.Press("U0MIA", "approve", resId, "r1");

        using (var wrongSecret = await SendAsync(channels, SlackStandIn.Interaction(press, secret: "not-the-signing-secret")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrongSecret.StatusCode);
            Assert.Contains("does not match", await wrongSecret.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var stale = await SendAsync(channels, SlackStandIn.Interaction(press, DateTimeOffset.UtcNow.AddMinutes(-6))))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, stale.StatusCode);
            Assert.Contains("window", await stale.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var unsigned = SlackStandIn.Interaction(press);
        unsigned.Headers.Remove("X-Slack-Signature");
        using (var missing = await SendAsync(channels, unsigned))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        }

        var tampered = SlackStandIn.Interaction(press);
        tampered.Content = new StringContent("payload=" + Uri.EscapeDataString(channels.Slack.Press("U0MAX", "approve", resId, "r1").ToJsonString()),
            System.Text.Encoding.UTF8, "application/x-www-form-urlencoded");
        using (var changedBody = await SendAsync(channels, tampered))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, changedBody.StatusCode);
        }

        using (var signedWithoutPayload = await SendAsync(channels, SlackStandIn.Signed("nothing=here")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, signedWithoutPayload.StatusCode);
            Assert.Contains("payload", await signedWithoutPayload.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Slack also reports presses of link buttons ("Open"): acknowledged, nothing decided.
        using (var open = await SendAsync(channels, SlackStandIn.Interaction(channels.Slack.Press("U0MIA", "open", resId, "r-open"))))
        {
            Assert.Equal(HttpStatusCode.OK, open.StatusCode);
        }

        Assert.Equal("Suspended", (string?)(await channels.Host.StatusAsync(run))["status"]);

        var at = DateTimeOffset.UtcNow;
        using (var first = await SendAsync(channels, SlackStandIn.Interaction(press, at)))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using (var replay = await SendAsync(channels, SlackStandIn.Interaction(press, at)))
        {
            Assert.Equal(HttpStatusCode.Conflict, replay.StatusCode);
        }

        await channels.Host.WaitForAsync(run, s => (string?)s["status"] == "Completed");
        await using var db = channels.Host.Database.OpenContext();
        Assert.Single(await db.Audit.Where(a => a.ExecutionId == run).ToListAsync());
        Assert.Single(await db.Notifications.Where(n => n.ExecutionId == run && n.Kind == NotificationKinds.SlackResponse).ToListAsync());
    }

    [Fact]
    public async Task A_press_after_another_channel_answered_shows_who_answered_and_when()
    {
        var (channels, run, resId, _) = await StartAsync();
        await using var _ = channels;
        using (var api = await channels.Host.Client(channels.Host.Token("max", ["managers"])).PostJsonAsync($"/api/executions/{resId}/resume", """{"decision":"Rejected"}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, api.StatusCode);
        }

        using (var response = await SendAsync(channels, SlackStandIn.Interaction(channels.Slack.Press("U0MIA", "approve", resId, "late"))))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var update = await channels.Slack.WaitForResponseAsync("late");
        Assert.True((bool?)update["replace_original"]);
        Assert.StartsWith("Already answered: Rejected by max via api at ", update["blocks"]![1]!["elements"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        var done = await channels.Host.WaitForAsync(run, s => (string?)s["status"] == "Completed");
        Assert.Equal("Rejected", (string?)done["output"]!["booked"]);
    }

    [Fact]
    public async Task A_press_by_a_slack_user_the_directory_does_not_know_decides_nothing()
    {
        var (channels, run, resId, _) = await StartAsync();
        await using var _ = channels;

        using (var response = await SendAsync(channels, SlackStandIn.Interaction(channels.Slack.Press("U0STRANGER", "approve", resId, "who"))))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var note = await channels.Slack.WaitForResponseAsync("who");
        Assert.Equal("ephemeral", (string?)note["response_type"]);
        Assert.Contains("not linked", (string?)note["text"], StringComparison.Ordinal);
        Assert.Equal("Suspended", (string?)(await channels.Host.StatusAsync(run))["status"]);
    }

    [Fact]
    public async Task A_slack_that_is_down_gets_the_message_later_and_the_run_goes_on_meanwhile()
    {
        await using var channels = await Channels.StartAsync();
        channels.Slack.FailNextPosts = 2;
        await channels.Host.CreateWorkflowAsync(Expense);
        await channels.AddPersonAsync("mia", ["managers"], slackUserId: "U0MIA");
        var run = await channels.Host.StartRunAsync("expense", """{"amount":9}""");
        await channels.Host.WaitForTaskAsync(run);

        await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U0MIA");
        var rows = await channels.WaitForNotificationsAsync(run, r => r.Any(n => n.Status == NotificationStatuses.Sent));
        var sent = rows.Single(n => n.Channel == "slack" && n.Kind == NotificationKinds.TaskCreated);
        Assert.Equal(2, sent.Attempts);
        Assert.StartsWith("U0MIA/", sent.ExternalId, StringComparison.Ordinal);
    }

    /// <summary>
    /// An approval two people must sign (issue 15): a press is a vote — the pressed message says so with the tally and drops
    /// its buttons, the other recipients' messages show the tally and keep theirs — and the second vote settles it everywhere.
    /// </summary>
    [Fact]
    public async Task A_vote_from_slack_shows_its_tally_on_every_message_and_the_deciding_vote_ends_them_all()
    {
        await using var channels = await Channels.StartAsync();
        await channels.Host.CreateWorkflowAsync(Expense.Replace("\"expiresAfter\":\"P1D\"", "\"quorum\":{\"approvals\":2}", StringComparison.Ordinal));
        await channels.AddPersonAsync("mia", ["managers"], slackUserId: "U0MIA");
        await channels.AddPersonAsync("max", ["managers"], slackUserId: "U0MAX");
        var run = await channels.Host.StartRunAsync("expense", """{"amount":40}""");
        var resId = await channels.Host.WaitForTaskAsync(run);
        var mia = await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U0MIA");
        var max = await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U0MAX");
        Assert.Contains(mia["blocks"]!.AsArray(), b => (string?)b!["block_id"] == "approval-studio-tally" && ((string)b["elements"]![0]!["text"]!).StartsWith("0 of 2 approvals", StringComparison.Ordinal));
        await channels.WaitForNotificationsAsync(run, r => r.Count(n => n.Status == NotificationStatuses.Sent) == 2);

        using (var response = await SendAsync(channels, SlackStandIn.Interaction(channels.Slack.Press("U0MIA", "approve", resId, "mia-vote", (string?)mia["ts"]))))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var pressed = await channels.Slack.WaitForResponseAsync("mia-vote");
        Assert.Equal("You voted Approved. 1 of 2 approvals.", (string?)pressed["blocks"]![1]!["elements"]![0]!["text"]);
        Assert.DoesNotContain(pressed["blocks"]!.AsArray(), b => (string?)b!["type"] == "actions");
        var maxTally = await channels.Slack.WaitForUpdateAsync(u => (string?)u["ts"] == (string?)max["ts"]);
        Assert.Contains(maxTally["blocks"]!.AsArray(), b => (string?)b!["block_id"] == "approval-studio-tally" && (string?)b["elements"]![0]!["text"] == "1 of 2 approvals");
        Assert.Equal(["approve", "reject", "open"], Buttons(maxTally).Select(b => (string?)b!["action_id"])); // Max may still vote
        Assert.DoesNotContain(channels.Slack.Updated, u => (string?)u["ts"] == (string?)mia["ts"]);

        // Mia presses again (an old message): told she voted, nothing changes.
        using (var again = await SendAsync(channels, SlackStandIn.Interaction(channels.Slack.Press("U0MIA", "reject", resId, "mia-again", (string?)mia["ts"]))))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        Assert.StartsWith("You already voted Approved via slack at ", (string?)(await channels.Slack.WaitForResponseAsync("mia-again"))["text"], StringComparison.Ordinal);

        using (var response = await SendAsync(channels, SlackStandIn.Interaction(channels.Slack.Press("U0MAX", "approve", resId, "max-vote", (string?)max["ts"]))))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var done = await channels.Host.WaitForAsync(run, s => (string?)s["status"] == "Completed");
        Assert.Equal("Approved", (string?)done["output"]!["booked"]);
        Assert.StartsWith("Approved by Max via slack at ", (string?)(await channels.Slack.WaitForResponseAsync("max-vote"))["blocks"]![1]!["elements"]![0]!["text"], StringComparison.Ordinal);
        var miaSettled = await channels.Slack.WaitForUpdateAsync(u => (string?)u["ts"] == (string?)mia["ts"]);
        Assert.StartsWith("Approved by Max via slack at ", (string?)miaSettled["blocks"]![1]!["elements"]![0]!["text"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Once_a_task_is_answered_elsewhere_or_expires_every_slack_message_of_it_loses_its_buttons_and_says_how_it_ended()
    {
        await using var channels = await Channels.StartAsync();
        await channels.Host.CreateWorkflowAsync(Expense);
        await channels.Host.CreateWorkflowAsync(Expense.Replace("\"key\":\"expense\"", "\"key\":\"quick\"", StringComparison.Ordinal)
            .Replace("P1D", "PT3S", StringComparison.Ordinal));
        await channels.AddPersonAsync("mia", ["managers"], slackUserId: "U0MIA");
        await channels.AddPersonAsync("max", ["managers"], slackUserId: "U0MAX");

        var answered = await channels.Host.StartRunAsync("expense", """{"amount":10}""");
        var resId = await channels.Host.WaitForTaskAsync(answered);
        var mia = await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U0MIA");
        var max = await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U0MAX");
        await channels.WaitForNotificationsAsync(answered, r => r.Count(n => n.Status == NotificationStatuses.Sent) == 2);
        using (var api = await channels.Host.Client(channels.Host.Token("max", ["managers"])).PostJsonAsync($"/api/executions/{resId}/resume", """{"decision":"Approved"}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, api.StatusCode);
        }

        foreach (var message in new[] { mia, max })
        {
            var update = await channels.Slack.WaitForUpdateAsync(u => (string?)u["ts"] == (string?)message["ts"]);
            Assert.Equal((string?)message["channel"], (string?)update["channel"]);
            Assert.StartsWith("Approved by max via api at ", update["blocks"]![1]!["elements"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.DoesNotContain(update["blocks"]!.AsArray(), b => (string?)b!["type"] == "actions");
        }

        var expiring = await channels.Host.StartRunAsync("quick", """{"amount":11}""");
        await channels.Host.WaitForTaskAsync(expiring);
        var late = await channels.Slack.WaitForPostAsync(p => (string?)p["text"] == "Approve 11 EUR &lt;b&gt;now&lt;/b&gt;" && (string?)p["channel"] == "U0MIA");
        var expired = await channels.Slack.WaitForUpdateAsync(u => (string?)u["ts"] == (string?)late["ts"], TimeSpan.FromSeconds(20));
        Assert.StartsWith("The task passed its deadline", expired["blocks"]![1]!["elements"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Neither_the_bot_token_the_signing_secret_nor_a_response_url_reaches_the_logs_even_at_trace()
    {
        var logs = new LogCapture();
        await using var channels = await Channels.StartAsync(settings: LogCapture.Everything(), services: logs.Install);
        await channels.Host.CreateWorkflowAsync(Expense);
        await channels.AddPersonAsync("mia", ["managers"], slackUserId: "U0MIA");
        var run = await channels.Host.StartRunAsync("expense", """{"amount":1}""");
        var resId = await channels.Host.WaitForTaskAsync(run);
        await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U0MIA");

        using (var response = await SendAsync(channels, SlackStandIn.Interaction(channels.Slack.Press("U0MIA", "approve", resId, "T0001-B0002-capability"))))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await channels.Slack.WaitForResponseAsync("T0001-B0002-capability");
        await channels.WaitForNotificationsAsync(run, r => r.Any(n => n.Kind == NotificationKinds.SlackResponse && n.Status == NotificationStatuses.Sent));
        Assert.Contains(logs.Messages, m => m.Contains("SlackResponse by slack", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Messages, m => m.Contains(SlackStandIn.BotToken, StringComparison.Ordinal)
            || m.Contains(SlackStandIn.SigningSecret, StringComparison.Ordinal) || m.Contains("T0001-B0002-capability", StringComparison.Ordinal));
    }
}
