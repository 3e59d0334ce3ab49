<?cs include:"header.cs" ?>
<h1><?cs var:Page.Title ?></h1>
<section class="card">
  <p><strong>Write these recovery codes down now.</strong> They are shown only once. Each signs you in once in place of a code, if you lose your device; agenthost keeps only their hashes.</p>
  <ul class="codes">
  <?cs each:c = Secret.Codes ?><li><code class="secret"><?cs var:c ?></code></li>
  <?cs /each ?></ul>
  <p><a href="<?cs var:Prefix ?>/admin">Continue to the dashboard</a></p>
</section>
<?cs include:"footer.cs" ?>
