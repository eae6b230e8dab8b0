using System.Net;
using System.Text.RegularExpressions;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using MimeKit;

namespace ApprovalStudio.Web.Tests.Notifications;

/// <summary>Email notifications over a real SMTP server (aiosmtpd): who gets them, what they carry, and that a mail server that is down holds up nothing.</summary>
public sealed partial class EmailNotificationTests
{
    private const string Expense = """
        {"key":"expense","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR for {{input.reason}}","assignees":{"users":["mia"],"groups":["managers"]},"expiresAfter":"P1D"},
                  {"id":"book","type":"set","values":{"booked":"manager.decision"}}],
         "edges":[{"from":"manager","to":"book"}]}
        """;

    public static string LinkIn(MimeMessage message) => LinkPattern().Match(message.TextBody ?? string.Empty).Value;

    [GeneratedRegex(@"https?://\S+/links/[A-Za-z0-9_\-\.]+")]
    private static partial Regex LinkPattern();

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task A_new_task_emails_each_assignee_the_directory_resolves_once_with_a_link_of_their_own(Provider provider)
    {
        await using var channels = await Channels.StartAsync(provider);
        await channels.Host.CreateWorkflowAsync(Expense);
        await channels.AddPersonAsync("mia", ["managers"], email: "mia@acme.test");
        await channels.AddPersonAsync("max", ["managers", "travel"], email: "max@acme.test");
        await channels.AddPersonAsync("olga", ["finance"], email: "olga@acme.test");
        await channels.AddPersonAsync("nora", ["managers"]);
        await channels.AddPersonAsync("mia", ["managers"], email: "mia-other-tenant@acme.test", tenant: "globex");

        var run = await channels.Host.StartRunAsync("expense", """{"amount":120,"reason":"train tickets"}""");
        var resId = await channels.Host.WaitForTaskAsync(run);
        var mia = await channels.Smtp!.WaitForAsync("mia@acme.test");
        var max = await channels.Smtp.WaitForAsync("max@acme.test");
        var rows = await channels.WaitForNotificationsAsync(run, r => r.Count(n => n.Kind == NotificationKinds.TaskCreated && n.Channel == "email") == 2
            && r.Where(n => n.Channel == "email" && n.Kind == NotificationKinds.TaskCreated).All(n => n.Status == NotificationStatuses.Sent));

        Assert.Equal("Approve 120 EUR for train tickets", mia.Subject);
        Assert.Equal("approvals@studio.test", mia.From.Mailboxes.Single().Address);
        Assert.Contains("Hello Mia,", mia.TextBody, StringComparison.Ordinal);
        Assert.Contains("Approve 120 EUR for train tickets", mia.HtmlBody, StringComparison.Ordinal);
        var miaLink = LinkIn(mia);
        var maxLink = LinkIn(max);
        Assert.StartsWith($"{channels.Host.Address.ToString().TrimEnd('/')}/links/", miaLink, StringComparison.Ordinal);
        Assert.NotEqual(miaLink, maxLink);
        Assert.Contains($"href=\"{miaLink}\"", mia.HtmlBody, StringComparison.Ordinal);

        // Mia is named and in the group: one email. Olga is not an assignee, Nora has no address, globex's Mia is another tenant's.
        Assert.Single(channels.Smtp.To("mia@acme.test"));
        Assert.Empty(channels.Smtp.To("olga@acme.test"));
        Assert.Empty(channels.Smtp.To("mia-other-tenant@acme.test"));
        Assert.Equal(["max", "mia"], rows.Where(n => n.Kind == NotificationKinds.TaskCreated && n.Channel == "email").Select(n => n.RecipientUserId).Order());
        Assert.All(rows, n => Assert.Equal(resId, n.ResId));

        // A mail scanner's GET of the link decides nothing.
        using (var scanner = new HttpClient())
        {
            Assert.Equal(HttpStatusCode.OK, (await scanner.GetAsync(miaLink)).StatusCode);
        }

        Assert.Equal("Suspended", (string?)(await channels.Host.StatusAsync(run))["status"]);
    }

    [Fact]
    public async Task A_mail_server_that_is_down_holds_up_neither_the_run_nor_the_resume_and_the_email_goes_out_when_it_is_back()
    {
        await using var channels = await Channels.StartAsync(smtpUp: false);
        await channels.Host.CreateWorkflowAsync(Expense);
        await channels.AddPersonAsync("mia", ["managers"], email: "mia@acme.test");

        // Run A: created, answered and completed while the mail server is down.
        var answered = await channels.Host.StartRunAsync("expense", """{"amount":1,"reason":"a"}""");
        var answeredTask = await channels.Host.WaitForTaskAsync(answered);
        await channels.WaitForNotificationsAsync(answered, r => r.Any(n => n.Attempts >= 1));
        using (var response = await channels.Host.Client(channels.Host.Token("mia")).PostJsonAsync($"/api/executions/{answeredTask}/resume", """{"decision":"Approved"}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await channels.Host.WaitForAsync(answered, s => (string?)s["status"] == "Completed");

        // Run B: still open; its email fails, is retried, and is delivered once the server is up.
        var open = await channels.Host.StartRunAsync("expense", """{"amount":2,"reason":"b"}""");
        await channels.Host.WaitForTaskAsync(open);
        var failing = await channels.WaitForNotificationsAsync(open, r => r.Any(n => n.Attempts >= 2));
        Assert.Contains("refused", failing.First(n => n.Attempts >= 2).LastError, StringComparison.OrdinalIgnoreCase);

        await channels.StartSmtpAsync();
        var email = await channels.Smtp!.WaitForAsync("mia@acme.test");
        Assert.Equal("Approve 2 EUR for b", email.Subject);
        var sent = await channels.WaitForNotificationsAsync(open, r => r.Single(n => n.Kind == NotificationKinds.TaskCreated).Status == NotificationStatuses.Sent);
        Assert.True(sent.Single(n => n.Kind == NotificationKinds.TaskCreated).Attempts >= 2);

        // Run A's email was never sent: its task was answered first, so the retry skipped it.
        var stale = await channels.WaitForNotificationsAsync(answered, r => r.Single(n => n.Kind == NotificationKinds.TaskCreated).Status == NotificationStatuses.Skipped);
        Assert.Equal("The task is Resolved.", stale.Single(n => n.Kind == NotificationKinds.TaskCreated).LastError);
        Assert.Single(channels.Smtp.To("mia@acme.test"));

        // What an operator sees of it: the attempts and the errors, never the address.
        var (status, view, _) = await AppHost.SendAsync(channels.Host.Admin(), HttpMethod.Get, $"/api/tasks/{answeredTask}/notifications");
        Assert.Equal(HttpStatusCode.OK, status);
        var created = view!.AsArray().Single(n => (string?)n!["kind"] == NotificationKinds.TaskCreated)!;
        Assert.Equal(("email", "mia", "Skipped"), ((string?)created["channel"], (string?)created["recipientUserId"], (string?)created["status"]));
        Assert.True((int)created["attempts"]! >= 1);
        Assert.DoesNotContain("mia@acme.test", view.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await AppHost.SendAsync(channels.Host.Admin("globex"), HttpMethod.Get, $"/api/tasks/{answeredTask}/notifications")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await AppHost.SendAsync(channels.Host.Client(channels.Host.Token("mia")), HttpMethod.Get, $"/api/tasks/{answeredTask}/notifications")).Status);
    }

    [Fact]
    public async Task A_message_sent_again_after_a_crash_between_the_servers_answer_and_the_rows_update_keeps_its_message_id()
    {
        await using var channels = await Channels.StartAsync();
        await channels.Host.CreateWorkflowAsync(Expense);
        await channels.AddPersonAsync("mia", ["managers"], email: "mia@acme.test");
        var run = await channels.Host.StartRunAsync("expense", """{"amount":3,"reason":"c"}""");
        var first = await channels.Smtp!.WaitForAsync("mia@acme.test");
        var row = (await channels.WaitForNotificationsAsync(run, r => r.Any(n => n.Channel == "email" && n.Kind == NotificationKinds.TaskCreated && n.Status == NotificationStatuses.Sent)))
            .Single(n => n.Channel == "email" && n.Kind == NotificationKinds.TaskCreated);

        // What a crash right after the mail server's answer leaves: the row is still pending, and it is sent again.
        await using (var db = channels.Host.Database.OpenContext())
        {
            await db.Notifications.Where(n => n.Id == row.Id).ExecuteUpdateAsync(s => s
                .SetProperty(n => n.Status, NotificationStatuses.Pending).SetProperty(n => n.SentAt, (DateTime?)null));
        }

        await channels.Smtp.WaitForAsync("mia@acme.test", count: 2);
        Assert.All(channels.Smtp.To("mia@acme.test"), m => Assert.Equal(first.MessageId, m.MessageId));
        Assert.Matches($"^notification-{row.Id}-\\d{{17}}@studio\\.test$", first.MessageId);

        // Another message has another id.
        await channels.Host.StartRunAsync("expense", """{"amount":4,"reason":"d"}""");
        var third = await channels.Smtp.WaitForAsync("mia@acme.test", m => m.Subject?.Contains("4 EUR", StringComparison.Ordinal) == true);
        Assert.NotEqual(first.MessageId, third.MessageId);
    }

    [Fact]
    public async Task A_message_that_keeps_failing_is_given_up_after_the_configured_attempts_with_its_last_error()
    {
        var logs = new LogCapture();
        await using var channels = await Channels.StartAsync(smtpUp: false, settings: new Dictionary<string, string?> { ["Notifications:MaxAttempts"] = "2" },
            services: logs.Install);
        await channels.Host.CreateWorkflowAsync(Expense);
        await channels.AddPersonAsync("mia", ["managers"], email: "mia@acme.test");
        var run = await channels.Host.StartRunAsync("expense", """{"amount":3,"reason":"c"}""");

        var rows = await channels.WaitForNotificationsAsync(run, r => r.Any(n => n.Status == NotificationStatuses.Failed));
        var failed = rows.Single(n => n.Status == NotificationStatuses.Failed);
        Assert.Equal(2, failed.Attempts);
        Assert.False(string.IsNullOrEmpty(failed.LastError));
        Assert.Equal("Suspended", (string?)(await channels.Host.StatusAsync(run))["status"]);

        // The retry's time reads the same on every machine: ISO 8601, UTC.
        Assert.Contains(logs.Messages, m => Regex.IsMatch(m, @"retrying at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"));
    }

    [Fact]
    public async Task A_reminder_goes_out_before_the_deadline_while_the_task_is_open_and_not_once_it_is_answered()
    {
        // The deadline is a day away and reminders go out a day minus 5 s before it: due 5 s after creation.
        await using var channels = await Channels.StartAsync(settings: new Dictionary<string, string?> { ["Notifications:ReminderBefore"] = "23:59:55" });
        await channels.Host.CreateWorkflowAsync(Expense);
        await channels.AddPersonAsync("mia", ["managers"], email: "mia@acme.test");
        await channels.AddPersonAsync("max", ["managers"], email: "max@acme.test");

        var open = await channels.Host.StartRunAsync("expense", """{"amount":4,"reason":"still open"}""");
        await channels.Host.WaitForTaskAsync(open);
        var answered = await channels.Host.StartRunAsync("expense", """{"amount":5,"reason":"answered"}""");
        var answeredTask = await channels.Host.WaitForTaskAsync(answered);
        using (var response = await channels.Host.Client(channels.Host.Token("max", ["managers"])).PostJsonAsync($"/api/executions/{answeredTask}/resume", """{"decision":"Approved"}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var reminder = await channels.Smtp!.WaitForAsync("mia@acme.test", m => m.Subject?.StartsWith("Reminder:", StringComparison.Ordinal) == true, TimeSpan.FromSeconds(20));
        var rows = await channels.WaitForNotificationsAsync(answered, r => r.Where(n => n.Kind == NotificationKinds.Reminder).All(n => n.Status == NotificationStatuses.Skipped));

        Assert.Equal("Reminder: Approve 4 EUR for still open", reminder.Subject);
        Assert.Contains("still waiting for your answer", reminder.TextBody, StringComparison.Ordinal);
        Assert.Equal(2, rows.Count(n => n.Kind == NotificationKinds.Reminder));
        Assert.DoesNotContain(channels.Smtp.Messages(), m => m.Subject == "Reminder: Approve 5 EUR for answered");
    }

    /// <summary>
    /// An approval two people must sign (issue 15): its emails say where the vote stands, and once someone has voted they get
    /// no reminder — the others' reminders carry the new tally.
    /// </summary>
    [Fact]
    public async Task Emails_of_an_approval_being_voted_on_carry_the_tally_and_nobody_who_voted_is_reminded()
    {
        await using var channels = await Channels.StartAsync(settings: new Dictionary<string, string?> { ["Notifications:ReminderBefore"] = "23:59:55" });
        await channels.Host.CreateWorkflowAsync(Expense.Replace("\"expiresAfter\"", "\"quorum\":{\"approvals\":2},\"expiresAfter\"", StringComparison.Ordinal));
        await channels.AddPersonAsync("mia", ["managers"], email: "mia@acme.test");
        await channels.AddPersonAsync("max", ["managers"], email: "max@acme.test");
        var run = await channels.Host.StartRunAsync("expense", """{"amount":6,"reason":"a vote"}""");
        var resId = await channels.Host.WaitForTaskAsync(run);
        var first = await channels.Smtp!.WaitForAsync("mia@acme.test");
        Assert.Contains("Votes so far: 0 of 2 approvals.", first.TextBody, StringComparison.Ordinal);
        Assert.Contains("<p>Votes so far: 0 of 2 approvals.</p>", first.HtmlBody, StringComparison.Ordinal);

        using (var response = await channels.Host.Client(channels.Host.Token("max", ["managers"])).PostJsonAsync($"/api/executions/{resId}/resume", """{"decision":"Approved"}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var reminder = await channels.Smtp.WaitForAsync("mia@acme.test", m => m.Subject?.StartsWith("Reminder:", StringComparison.Ordinal) == true, TimeSpan.FromSeconds(20));
        Assert.Contains("Votes so far: 1 of 2 approvals.", reminder.TextBody, StringComparison.Ordinal);
        var rows = await channels.WaitForNotificationsAsync(run, r => r.Count(n => n.Kind == NotificationKinds.Reminder && n.Status != NotificationStatuses.Pending && n.Status != NotificationStatuses.Leased) == 2);
        var maxReminder = Assert.Single(rows, n => n.Kind == NotificationKinds.Reminder && n.RecipientUserId == "max");
        Assert.Equal(NotificationStatuses.Skipped, maxReminder.Status);
        Assert.Equal("The recipient has voted on this task.", maxReminder.LastError);
    }

    [Fact]
    public async Task Two_instances_draining_one_outbox_send_each_message_once()
    {
        // The first instance writes the outbox but does not send; two more start at once on the backlog.
        await using var channels = await Channels.StartAsync(Provider.Postgres, settings: new Dictionary<string, string?> { ["Notifications:Enabled"] = "false" });
        await channels.Host.CreateWorkflowAsync(Expense);
        var people = new[] { "mia", "max", "moe", "meg", "mo" };
        foreach (var person in people)
        {
            await channels.AddPersonAsync(person, ["managers"], email: $"{person}@acme.test");
        }

        var runs = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            runs.Add(await channels.Host.StartRunAsync("expense", $$"""{"amount":{{i}},"reason":"r{{i}}"}"""));
        }

        foreach (var run in runs)
        {
            await channels.WaitForNotificationsAsync(run, r => r.Count(n => n.Kind == NotificationKinds.TaskCreated) == people.Length);
        }

        var on = new Dictionary<string, string?> { ["Notifications:Enabled"] = "true", ["Workflows:Worker:Enabled"] = "false" };
        var instances = await Task.WhenAll(channels.StartAnotherInstanceAsync(on), channels.StartAnotherInstanceAsync(on));
        try
        {
            foreach (var run in runs)
            {
                await channels.WaitForNotificationsAsync(run, r => r.Count(n => n.Status == NotificationStatuses.Sent && n.Kind == NotificationKinds.TaskCreated) == people.Length);
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
            var messages = channels.Smtp!.Messages();
            Assert.Equal(runs.Count * people.Length, messages.Count);
            Assert.Equal(messages.Count, messages.Select(m => (m.To.ToString(), m.Subject)).Distinct().Count());
        }
        finally
        {
            foreach (var instance in instances)
            {
                await instance.DisposeAsync();
            }
        }
    }
}
