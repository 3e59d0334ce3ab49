<?cs include:"header.cs" ?>
<section class="empty">
  <h1><?cs var:Error.Status ?></h1>
  <p><?cs var:Error.Message ?></p>
  <p><a href="<?cs var:Prefix ?>/admin">Back to the overview</a></p>
</section>
<?cs include:"footer.cs" ?>
